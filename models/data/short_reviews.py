"""Short, plain and negated reviews for the classifier to learn from, and the check set
it is measured on.

The snippet pool (critics' sentence-long lines) rarely says "Awful film." or "It is not a
good film.", so a model trained on it alone gets such reviews wrong with confidence. The
``augment`` split adds reviews built from templates (plain, negated, contrasted,
superlative) over words whose polarity VADER's lexicon (``vader_lexicon.txt`` in the
pinned ``vadersentiment`` archive: mean ratings of 10 people, −4 … 4) agrees with, and
that the critics' snippets use. They only ever join training: validation and test stay
the snippet pool.

``short_reviews.jsonl`` beside this module is the check set: 240 short reviews written for
this project (none from the snippet pool), each with its label. ``short_reviews_blind.jsonl``
is a second set of 178, written separately and never read while the generator and the
model were chosen (its 22 reviews equal to one of the first set taken out): it measures
what looking at the first set's errors may have tuned to. ``short_reviews_third.jsonl``
(200) was written while recipes for a fourth version were being tried, before any was
chosen; the README (*sentiment*) says how it was used. A generated review whose
normalised text equals a review of any set is dropped, so none is seen in training.
"""

from __future__ import annotations

import json
import random
import tarfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.text.normalize import dedup_key

LEXICON_MEMBER = "vaderSentiment-3.3.2/vaderSentiment/vader_lexicon.txt"
CHECK_SET = Path(__file__).with_name("short_reviews.jsonl")
BLIND_SET = Path(__file__).with_name("short_reviews_blind.jsonl")
# written while recipes for a fourth version were tried, before one was chosen
THIRD_SET = Path(__file__).with_name("short_reviews_third.jsonl")
CHECK_SETS = {"short_reviews": CHECK_SET, "short_reviews_blind": BLIND_SET,
              "short_reviews_third": THIRD_SET}  # fmt: skip
COUNT = 6000  # generated reviews, half of each label (before dropping repeats)
STRONG = 1.5  # |mean rating| of a lexicon word to count as clearly one way

NOUNS = (
    "film", "movie", "picture", "flick", "show", "series", "documentary", "comedy",
    "thriller", "drama", "sequel", "script", "story", "plot", "cast", "ending",
    "performance", "acting", "soundtrack", "direction", "screenplay", "animation",
)  # fmt: skip
# adjectives a reviewer uses, each kept unless the lexicon gives it the other sign
SEED = {
    "positive": (
        "good", "great", "excellent", "wonderful", "brilliant", "superb", "amazing",
        "fantastic", "beautiful", "delightful", "charming", "moving", "funny", "clever",
        "enjoyable", "entertaining", "impressive", "outstanding", "terrific", "lovely",
        "perfect", "stunning", "touching", "smart", "fun", "gorgeous", "remarkable",
        "engaging", "fresh", "inspired", "masterful", "powerful", "sweet", "witty",
        "thrilling", "hilarious", "magnificent", "marvelous", "splendid", "solid",
        "strong", "rich", "warm", "nice", "best", "awesome", "compelling", "gripping",
    ),
    "negative": (
        "bad", "awful", "terrible", "horrible", "boring", "dull", "stupid", "weak",
        "poor", "lame", "pathetic", "dreadful", "painful", "tedious", "mediocre",
        "disappointing", "ugly", "annoying", "pointless", "worthless", "silly", "bland",
        "lousy", "miserable", "tiresome", "clumsy", "messy", "forgettable", "unfunny",
        "awkward", "dumb", "horrendous", "atrocious", "ridiculous", "embarrassing",
        "shallow", "stale", "sloppy", "crappy", "worst", "tired", "flat", "predictable",
    ),
}  # fmt: skip
VERBS = {
    "positive": ("loved", "enjoyed", "adored", "liked", "admired"),
    "negative": ("hated", "disliked", "loathed", "despised", "regretted"),
}
BASE = {"loved": "love", "enjoyed": "enjoy", "adored": "adore", "liked": "like",
        "admired": "admire", "hated": "hate", "disliked": "dislike", "loathed": "loathe",
        "despised": "despise", "regretted": "regret"}  # fmt: skip
SUPERLATIVE = {
    "positive": (
        "best", "finest", "greatest", "funniest", "smartest", "most moving", "favorite",
        "most beautiful",
    ),
    "negative": (
        "worst", "dullest", "weakest", "most boring", "silliest", "most tedious",
        "least funny", "least interesting", "least original",
    ),
}  # fmt: skip
WHEN = ("of the year", "I have seen", "in years", "in ages", "of all time", "ever made",
        "on tv right now", "this decade", "in a long time")  # fmt: skip
# verbs of what a film does: negated, those of the one list say what those of the other do
DOES = {
    "positive": ("works", "lands", "delivers", "clicks", "comes together", "takes off",
                 "holds up", "pays off"),
    "negative": ("drags", "bores", "disappoints", "gets old", "falters", "misses",
                 "lets up", "sags"),
}  # fmt: skip
# what a viewer did not do (a negative review) and what a film did not do (a positive one)
DID_NOT = {
    "negative": ("I did not {v} once.", "I couldn't {v}.", "Didn't {v} once."),
    "positive": ("It did not {v} once.", "Didn't {v} at all.", "It never {v}s."),
}
DO = {
    "negative": ("laugh", "smile", "care", "cry", "feel a thing"),
    "positive": ("disappoint", "drag", "bore", "let up", "falter"),
}
OTHER = {"positive": "negative", "negative": "positive"}
# verdicts people type that name no quality: a recommendation, a warning, a comparison
VERDICTS = {
    "positive": (
        "Highly recommended.", "Go see it.", "A must see.", "Worth watching.",
        "Worth the ticket.", "Worth your time.", "I would watch it again.", "See it twice.",
        "I recommend it to everyone.", "You will not regret it.", "Never a dull moment.",
        "I was hooked.", "It made my day.", "Better than I expected.", "Better than the book.",
        "Even better than the first one.", "Not as bad as they say.", "Pure joy.",
        "I could watch it again and again.", "Instant classic.", "Two thumbs up.",
        "Five stars.", "I was on the edge of my seat.", "Everyone should see it.",
        "Don't skip this one.", "Go watch it now.", "A joy from start to finish.",
    ),
    "negative": (
        "Skip it.", "Avoid it.", "A waste of time.", "A waste of money.", "Not worth it.",
        "Save your money.", "Stay away.", "We walked out.", "I fell asleep.",
        "I want my time back.", "Not recommended.", "I would not recommend it.",
        "Worse than I expected.", "Worse than the book.", "Not as good as the first one.",
        "Nowhere near as good as the original.", "One star.", "Two hours I will never get back.",
        "Don't waste your time on it.", "Not worth the ticket.", "A total letdown.",
        "What a waste.", "I regret watching it.", "Nobody should see this.",
        "It never gets going.", "Turned it off halfway.", "Thumbs down.",
    ),
}  # fmt: skip
ADVERBS = {
    "positive": ("beautifully", "brilliantly", "wonderfully", "superbly", "perfectly"),
    "negative": ("poorly", "badly", "terribly", "horribly", "clumsily"),
}
PARTICIPLES = ("acted", "shot", "written", "directed", "made", "edited", "paced", "told")

# (template, label rule): "same" keeps the word's polarity, "flip" turns it (negation);
# {a} is a word of the drawn polarity, {b} one of the other, {n} {m} nouns
SAME = (
    "{A}.", "{A} {n}.", "{an} {n}.", "What {an} {n}!", "The {n} was {a}.", "The {n} is {a}.",
    "Truly {a}.", "Just {a}.", "Really {a} {n}.", "This {n} is {a}.", "So {a}.",
    "{A} from start to finish.", "Simply {a}.", "Absolutely {a}.", "{A}, {a2} {n}.",
    "Such {an} {n}.", "{A} {n}, {a2} {m}.", "The {n} is so {a}.", "Very {a}.",
    "Quite {an} {n}.", "Pretty {a}, honestly.", "The whole thing is {a}.",
)  # fmt: skip
FLIP = (
    "Not {a}.", "Not {an} {n}.", "It is not {an} {n}.", "It's not {a}.",
    "The {n} was not {a}.", "The {n} isn't {a}.", "Not {a} at all.", "Hardly {a}.",
    "Far from {a}.", "Never {a}.", "Not exactly {a}.", "I wouldn't call it {a}.",
    "Nothing {a} about it.", "The {n} wasn't {a} at all.", "Not {a} in the slightest.",
    "Not what I would call {an} {n}.", "Definitely not {a}.", "The {n} is never {a}.",
)  # fmt: skip
# the clause after "but" (or the second verdict) decides
TURN = (
    "{B} {n}, but {an} {m}.", "The {n} is {b}, but the {m} is {a}.",
    "Despite {bn} {n}, the {m} is {a}.", "Starts {b} but ends {a}.",
    "Not {b} at all, actually quite {a}.", "Not {b}, just {a}.",
    "{B} at first, {a} in the end.", "Never {b}, always {a}.",
)  # fmt: skip


def read_lexicon(archive: Path) -> dict[str, float]:
    """VADER's words (and emoticons) with their mean rating."""
    with tarfile.open(archive) as t:
        member = t.extractfile(LEXICON_MEMBER)
        if member is None:
            raise ValueError(f"{archive}: {LEXICON_MEMBER} is not a file")
        raw = member.read().decode("utf-8")
    out = {}
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            out[parts[0]] = float(parts[1])
    return out


def read_check_set(path: Path = CHECK_SET) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def words(lexicon: dict[str, float], snippets: Iterable[str]) -> dict[str, list[str]]:
    """Per label, the seed adjectives the lexicon rates clearly that way, and the
    snippets' own words the lexicon rates clearly (adjective-like endings only)."""
    vocab = Counter(w for text in snippets for w in dedup_key(text).split())
    endings = ("ful", "ous", "ive", "able", "ible", "less", "ic", "ish", "ant")
    out: dict[str, list[str]] = {}
    for label, seeds in SEED.items():
        sign = 1 if label == "positive" else -1
        found = [w for w in seeds if sign * lexicon.get(w, sign) > 0]
        found += sorted(
            w
            for w, rating in lexicon.items()
            if w.isalpha()
            and sign * rating >= STRONG
            and vocab[w] >= 3
            and w.endswith(endings)
            and w not in seeds
        )
        out[label] = found
    return out


def generate(vocab: dict[str, list[str]], count: int, seed: int = 13) -> list[dict[str, str]]:
    """``count`` reviews, labels alternating, from the templates over ``vocab``."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = ("positive", "negative")[i % 2]
        kinds = ("same", "flip", "turn", "verb", "super", "verdict", "adverb", "does")
        kind = rng.choices(kinds, (5, 4, 2, 1, 1, 2, 1, 2))[0]
        rows.append({"text": _review(rng, vocab, label, kind), "label": label})
    return rows


def _review(rng: random.Random, vocab: dict[str, list[str]], label: str, kind: str) -> str:
    if kind == "verb":
        if rng.random() < 0.5:
            text = rng.choice(("I {v} it.", "{V} it.", "I {v} every minute.", "{V} this {n}."))
            v = rng.choice(VERBS[label])
        else:  # "I didn't hate it." is a kind word
            text = rng.choice(("I didn't {v} it.", "Didn't {v} it at all.", "Did not {v} it."))
            v = BASE[rng.choice(VERBS[OTHER[label]])]
        return _case(rng, text.format(v=v, V=v.capitalize(), n=rng.choice(NOUNS)))
    if kind == "does":
        return _case(rng, _does(rng, vocab, label))
    if kind == "verdict":
        return _case(rng, rng.choice(VERDICTS[label]))
    if kind == "adverb":
        text = f"{rng.choice(ADVERBS[label])} {rng.choice(PARTICIPLES)}."
        if rng.random() < 0.5:
            text = f"{text[:-1]} {rng.choice(('film', 'movie', 'show', 'drama'))}."
        return _case(rng, text[0].upper() + text[1:])
    if kind == "super":
        s = rng.choice(SUPERLATIVE[label])
        text = rng.choice(("The {s} {n} {w}.", "{S} {n} {w}.", "Easily the {s} {n} {w}."))
        w = rng.choice(WHEN)
        return _case(rng, text.format(s=s, S=s.capitalize(), n=rng.choice(NOUNS), w=w))
    polarity = OTHER[label] if kind == "flip" else label
    template = rng.choice({"same": SAME, "flip": FLIP, "turn": TURN}[kind])
    a, a2 = rng.choice(vocab[polarity]), rng.choice(vocab[polarity])
    b = rng.choice(vocab[OTHER[polarity]])
    n, m = rng.sample(NOUNS, 2)
    text = template.format(
        a=a, A=a.capitalize(), a2=a2, an=_article(a), b=b, B=b.capitalize(), bn=_article(b),
        n=n, m=m,
    )  # fmt: skip
    return _case(rng, text[0].upper() + text[1:])


def _does(rng: random.Random, vocab: dict[str, list[str]], label: str) -> str:
    """What the film does or does not do: "It never drags." (positive), "I did not laugh
    once." (negative), "Not a single dull moment." (positive), "Great visuals can't save
    the awful script." (negative)."""
    other = OTHER[label]
    n, m = rng.sample(NOUNS, 2)
    choice = rng.randrange(5)
    if choice == 0:
        return rng.choice(("It {v}.", "The {n} really {v}.", "It always {v}.")).format(
            v=rng.choice(DOES[label]), n=n
        )
    if choice == 1:
        text = rng.choice(("It never {v}.", "The {n} never {v}.", "It never once {v}."))
        return text.format(v=rng.choice(DOES[other]), n=n)
    if choice == 2:
        verb = rng.choice(DO[label])
        text = rng.choice(DID_NOT[label])
        if "{v}s" in text and " " in verb:
            text = "It did not {v} once."
        return text.format(v=verb)
    if choice == 3:
        a = rng.choice(vocab[other])
        return f"Not a single {a} {rng.choice(('moment', 'scene', 'minute', n))}."
    a, b = rng.choice(vocab[other]), rng.choice(vocab[label])
    return (
        f"{a.capitalize()} {n} can't save the {b} {m}."
        if label == "negative"
        else (f"{a.capitalize()} {n}, but the {b} {m} makes up for it.")
    )


def _case(rng: random.Random, text: str) -> str:
    """Some as people type them: lower case, no final stop."""
    if rng.random() < 0.15:
        text = text.lower()
    if rng.random() < 0.15:
        text = text.rstrip(".!")
    return text


def build(
    lexicon: dict[str, float], snippets: list[str], count: int = COUNT
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The augment rows (unique, none equal to a check-set review nor to a snippet) and
    what the manifest records of them."""
    vocab = words(lexicon, snippets)
    barred = {dedup_key(r["text"]) for path in CHECK_SETS.values() for r in read_check_set(path)}
    barred |= {dedup_key(t) for t in snippets}
    seen: set[str] = set()
    rows, dropped = [], Counter[str]()
    for row in generate(vocab, count):
        key = dedup_key(row["text"])
        if key in barred:
            dropped["equal_to_a_check_set_review_or_snippet"] += 1  # any of the check sets
        elif key in seen:
            dropped["repeat"] += 1
        else:
            seen.add(key)
            rows.append(row)
    stats = {
        "generated": count,
        "kept": len(rows),
        "dropped": dict(dropped),
        "words": {label: len(found) for label, found in vocab.items()},
        "labels": dict(Counter(r["label"] for r in rows)),
    }
    return rows, stats
