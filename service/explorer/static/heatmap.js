// A heatmap on a <canvas>: tokens on both axes, a colour bar, hover and keyboard reading.
// The picture is the download: labels and title are drawn into the canvas itself.

// viridis at 9 stops (matplotlib's colormap, the one the PNG endpoint uses)
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

export function colour(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}

// Tokens as labels: the leading space of a word-initial piece dropped, blanks made visible.
export function label(token) {
  const t = token.replace(/^\s+/, "");
  return t === "" ? "␣" : t;
}

const FONT = "12px system-ui, sans-serif";
const PAD = 8;

export class Heatmap {
  constructor(canvas, { cursor, tip, readout }) {
    this.canvas = canvas;
    this.cursor = cursor;
    this.tip = tip;
    this.readout = readout;
    this.map = null;
    this.at = null; // [row, col] under the keyboard cursor
    canvas.addEventListener("mousemove", (e) => this.hover(e));
    canvas.addEventListener("mouseleave", () => this.hideTip());
    canvas.addEventListener("keydown", (e) => this.key(e));
    canvas.addEventListener("focus", () => this.select(this.at || [0, 0]));
    canvas.addEventListener("blur", () => this.hideTip());
  }

  // map: {grid: number[][], rows: string[], cols: string[], title, xLabel, yLabel}
  draw(map) {
    this.map = map;
    this.at = null;
    this.cursor.hidden = true;
    this.hideTip();
    const { grid, rows, cols } = map;
    const n = Math.max(rows.length, cols.length);
    const cell = Math.max(6, Math.min(28, Math.floor(640 / n)));
    const ctx = this.canvas.getContext("2d");
    ctx.font = FONT;
    const width = (labels) => Math.max(0, ...labels.map((l) => ctx.measureText(label(l)).width));
    const showLabels = cell >= 10;
    const left = PAD + 16 + (showLabels ? width(rows) + 6 : 0);
    const top = PAD + 22;
    const bottom = PAD + 16 + (showLabels ? width(cols) + 6 : 0);
    const bar = 56;
    ctx.font = `bold ${FONT}`;
    const titleWidth = ctx.measureText(map.title).width;
    ctx.font = FONT;
    const w = Math.ceil(Math.max(left + cols.length * cell + bar, titleWidth + 2 * PAD));
    const h = Math.ceil(top + rows.length * cell + bottom);
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = w * dpr;
    this.canvas.height = h * dpr;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.geometry = { left, top, cell };
    Object.assign(this.canvas.dataset, {
      rows: rows.length, cols: cols.length, left, top, cell,
    });
    this.canvas.setAttribute("aria-label",
      `${map.title}: ${rows.length} rows (${map.yLabel}) by ${cols.length} columns (${map.xLabel})`);

    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, w, h);
    const max = Math.max(1e-12, ...grid.flat());
    this.max = max;
    for (let i = 0; i < rows.length; i++) {
      for (let j = 0; j < cols.length; j++) {
        ctx.fillStyle = `rgb(${colour(grid[i][j] / max).join(",")})`;
        ctx.fillRect(left + j * cell, top + i * cell, cell, cell);
      }
    }
    ctx.fillStyle = "#111111";
    ctx.font = `bold ${FONT}`;
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    ctx.fillText(map.title, PAD, PAD + 8);
    ctx.font = FONT;
    if (showLabels) {
      ctx.textAlign = "right";
      rows.forEach((r, i) => ctx.fillText(label(r), left - 6, top + (i + 0.5) * cell));
      cols.forEach((c, j) => {
        ctx.save();
        ctx.translate(left + (j + 0.5) * cell, top + rows.length * cell + 6);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(label(c), 0, 0);
        ctx.restore();
      });
    }
    ctx.textAlign = "center";
    ctx.fillText(map.xLabel, left + (cols.length * cell) / 2, h - PAD - 4);
    ctx.save();
    ctx.translate(PAD + 6, top + (rows.length * cell) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(map.yLabel, 0, 0);
    ctx.restore();
    // colour bar: 0 at the bottom, the map's largest weight at the top
    const bx = left + cols.length * cell + 14;
    const bh = Math.max(40, rows.length * cell);
    for (let y = 0; y < bh; y++) {
      ctx.fillStyle = `rgb(${colour(1 - y / bh).join(",")})`;
      ctx.fillRect(bx, top + y, 10, 1);
    }
    ctx.textAlign = "left";
    ctx.fillStyle = "#111111";
    ctx.fillText(max.toFixed(2), bx + 13, top + 4);
    ctx.fillText("0", bx + 13, top + bh - 4);
  }

  cellAt(x, y) {
    const { left, top, cell } = this.geometry;
    const i = Math.floor((y - top) / cell);
    const j = Math.floor((x - left) / cell);
    const { rows, cols } = this.map;
    return i >= 0 && j >= 0 && i < rows.length && j < cols.length ? [i, j] : null;
  }

  describe([i, j]) {
    const { grid, rows, cols } = this.map;
    return `${label(rows[i])} → ${label(cols[j])}: ${grid[i][j].toFixed(4)}`;
  }

  hover(e) {
    if (!this.map) return;
    const r = this.canvas.getBoundingClientRect();
    const at = this.cellAt(e.clientX - r.left, e.clientY - r.top);
    if (!at) {
      this.hideTip();
      return;
    }
    this.showTip(at);
  }

  showTip([i, j]) {
    const { left, top, cell } = this.geometry;
    this.tip.textContent = this.describe([i, j]);
    this.tip.dataset.row = i;
    this.tip.dataset.col = j;
    this.tip.dataset.weight = this.map.grid[i][j];
    this.tip.style.left = `${left + (j + 1) * cell + 4}px`;
    this.tip.style.top = `${top + (i + 1) * cell + 4}px`;
    this.tip.hidden = false;
  }

  hideTip() {
    this.tip.hidden = true;
  }

  select([i, j]) {
    if (!this.map) return;
    const { rows, cols } = this.map;
    i = Math.min(rows.length - 1, Math.max(0, i));
    j = Math.min(cols.length - 1, Math.max(0, j));
    this.at = [i, j];
    const { left, top, cell } = this.geometry;
    Object.assign(this.cursor.style, {
      left: `${left + j * cell}px`, top: `${top + i * cell}px`,
      width: `${cell}px`, height: `${cell}px`,
    });
    this.cursor.hidden = false;
    this.showTip([i, j]);
    this.readout.textContent = `${this.map.yLabel} ${i + 1} of ${rows.length}, ${this.map.xLabel} ${j + 1} of ${cols.length}: ${this.describe([i, j])}`;
  }

  key(e) {
    if (!this.map || !this.at) return;
    const [i, j] = this.at;
    const moves = {
      ArrowUp: [i - 1, j], ArrowDown: [i + 1, j], ArrowLeft: [i, j - 1], ArrowRight: [i, j + 1],
      Home: [i, 0], End: [i, this.map.cols.length - 1],
      PageUp: [0, j], PageDown: [this.map.rows.length - 1, j],
    };
    if (e.key in moves) {
      e.preventDefault();
      this.select(moves[e.key]);
    } else if (e.key === "Escape") {
      this.cursor.hidden = true;
      this.hideTip();
    }
  }
}

// A small picture of one map (no labels), for the overview of every layer and head.
export function thumbnail(grid, size = 72) {
  const rows = grid.length;
  const cols = grid[0].length;
  const c = document.createElement("canvas");
  c.width = cols;
  c.height = rows;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(cols, rows);
  const max = Math.max(1e-12, ...grid.flat());
  grid.forEach((row, i) => row.forEach((v, j) => {
    const [r, g, b] = colour(v / max);
    img.data.set([r, g, b, 255], 4 * (i * cols + j));
  }));
  ctx.putImageData(img, 0, 0);
  const scale = size / Math.max(rows, cols);
  c.style.width = `${Math.max(4, Math.round(cols * scale))}px`;
  c.style.height = `${Math.max(4, Math.round(rows * scale))}px`;
  return c;
}
