"""Procedural story generator.

Each story states facts early (the hero's name and animal, a home, a coloured object, a friend's
name) and repeats three of them only in the ending: the place, the colour and the friend's name.
The body refers to them indirectly ("home", "the kite", "the friend"), so recalling them at the end
of a long story needs the early context: that is what KV-cache and attention work is judged on.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import vocabulary as V


@dataclass
class Cast:
    name: str
    animal: str
    he: str
    his: str
    him: str
    place: tuple[str, str]
    colour: str
    obj: str
    friend: str
    friend_animal: str
    extras: dict = field(default_factory=dict)


@dataclass
class Story:
    text: str
    facts: dict
    # Prefix/answer pairs whose answer is stated only at the start of the story.
    probes: list


def _cast(rng: random.Random) -> Cast:
    name, friend = rng.sample(V.NAMES, 2)
    animal, friend_animal = rng.sample(V.ANIMALS, 2)
    he, his, him = rng.choice([("he", "his", "him"), ("she", "her", "her")])
    return Cast(name, animal, he, his, him, rng.choice(V.PLACES), rng.choice(V.COLOURS),
                rng.choice(V.OBJECTS), friend, friend_animal)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _a(word: str) -> str:
    """The indefinite article and the word: 'an owl', 'a cat'."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _intro(c: Cast, rng: random.Random) -> list[str]:
    opener = rng.choice(["Once upon a time", "One day", "Long ago", "A long time ago"])
    return [
        f"{opener}, there was a little {c.animal} named {c.name}.",
        rng.choice([f"{c.name} lived in {c.place[0]}.", f"{_cap(c.he)} lived in {c.place[0]} with {c.his} mom."]),
        rng.choice([
            f"{c.name} had {_a(c.colour)} {c.obj} that {c.he} loved very much.",
            f"{_cap(c.his)} favourite thing was {_a(c.colour)} {c.obj}.",
            f"Every day, {c.name} played with {c.his} {c.colour} {c.obj}.",
        ]),
        f"{c.name}'s best friend was {_a(c.friend_animal)} named {c.friend}.",
    ]


def _friend(c: Cast, rng: random.Random) -> str:
    return rng.choice([f"{c.his} friend the {c.friend_animal}", f"the {c.friend_animal}"])


def _event(c: Cast, rng: random.Random) -> list[str]:
    f = _friend(c, rng)
    food, feeling = rng.choice(V.FOODS), rng.choice(V.FEELINGS)
    spot, game, sound = rng.choice(V.SPOTS), rng.choice(V.GAMES), rng.choice(V.SOUNDS)
    weather = rng.choice(V.WEATHER)
    kind = rng.randrange(14)
    if kind == 0:
        return [f"One morning, {weather}.", f"{c.name} went outside with the {c.obj}.",
                f"{_cap(c.he)} felt {feeling}."]
    if kind == 1:
        return [f"{c.name} met {f} near the gate.", f'"Hello!" said {c.name}. "Do you want to play {game}?"',
                f'"Yes, I do!" said the {c.friend_animal}.', "They played all afternoon and laughed a lot."]
    if kind == 2:
        return [f"Then {c.name} could not find the {c.obj}.", f"{_cap(c.he)} looked {spot}, but it was not there.",
                f"{_cap(c.he)} looked {rng.choice(V.SPOTS)}, and there it was!", f"{c.name} was so happy to have the {c.obj} back."]
    if kind == 3:
        return [f"At lunch, {c.name} ate some {food}.", f'"These {food} are very good," {c.he} said.',
                f"{_cap(c.he)} shared some with {f}."]
    if kind == 4:
        return [f"Suddenly, {c.name} heard {sound}.", f'"What was that?" asked {f}.',
                f"They went to look and found {_a(rng.choice(V.ANIMALS))} who was lost.",
                f"{c.name} helped the little one find the way home."]
    if kind == 5:
        return [f"Later, {weather}.", f"{c.name} and {f} sat together and watched the sky.",
                f'"I like days like this," said {c.name}.']
    if kind == 6:
        return [f"{c.name} wanted to climb a big hill.", "It was hard, and the path was long.",
                f"But {c.he} did not give up, and {c.he} got to the top.", f"{c.name} felt very {rng.choice(['proud', 'brave', 'happy'])}."]
    if kind == 7:
        return [f"{_cap(f)} was {rng.choice(['sad', 'tired', 'scared'])} that day.", f'"What is wrong?" asked {c.name}.',
                f'"I lost my {rng.choice(V.OBJECTS)}," said the {c.friend_animal}.',
                f"{c.name} helped look for it until they found it {spot}."]
    if kind == 8:
        return [f"In the evening, {c.name} read a book about {_a(rng.choice(V.ANIMALS))}.",
                f"The book was about {_a(rng.choice(V.ANIMALS))} who went on a long trip.", f"{c.name} wanted to go on a trip too."]
    if kind == 9:
        return [f"{c.name} and {f} made a little {rng.choice(['house', 'tower', 'bridge', 'boat'])} out of sticks.",
                "It fell down once, so they built it again.", "This time it stayed up, and they cheered."]
    if kind == 10:
        return [f"Mom called, \"{c.name}, it is time to eat!\"", f"{c.name} ran inside and ate {food} with {c.his} family.",
                f"After that, {c.he} felt {rng.choice(['full', 'sleepy', 'warm', 'happy'])}."]
    if kind == 11:
        return [f"{c.name} took the {c.obj} to the {rng.choice(['park', 'river', 'market', 'field', 'school'])}.",
                f"Many animals came to see it.", f'"What a nice {c.obj}!" they said.', f"{c.name} smiled."]
    if kind == 12:
        return [f"One day, {c.name} found {_a(rng.choice(V.OBJECTS))} {spot}.", f'"Is this yours?" {c.he} asked {f}.',
                f'"No, it is not mine," said the {c.friend_animal}.', "So they put it back where they found it."]
    return [f"{c.name} was {feeling}.", f"{_cap(c.he)} sang a song about {food} and {rng.choice(V.FOODS)}.",
            f"{_cap(f)} sang too, and the song was very loud."]


ENDING_PLACE = "When the sun went down, {name} walked home to"
ENDING_COLOUR = "{He} put the"
ENDING_FRIEND = "Before {he} fell asleep, {name} said goodnight to {his} best friend,"


def _ending(c: Cast) -> tuple[list[str], list[tuple[str, str, str]]]:
    fill = dict(name=c.name, he=c.he, He=_cap(c.he), his=c.his)
    place_lead = ENDING_PLACE.format(**fill)
    colour_lead = ENDING_COLOUR.format(**fill)
    friend_lead = ENDING_FRIEND.format(**fill)
    sentences = [
        f"{place_lead} {c.place[1]}.",
        f"{colour_lead} {c.colour} {c.obj} next to {c.his} bed.",
        f"{friend_lead} {c.friend}.",
        "The end.",
    ]
    # (kind, lead text that ends right before the answer, answer)
    probes = [("place", place_lead, c.place[1]), ("colour", colour_lead, c.colour), ("name", friend_lead, c.friend)]
    return sentences, probes


def make_story(rng: random.Random, events: int) -> Story:
    c = _cast(rng)
    sentences = _intro(c, rng)
    for _ in range(events):
        sentences += _event(c, rng)
    ending, probe_leads = _ending(c)
    body = " ".join(sentences)
    text = body + "\n" + " ".join(ending)
    probes = []
    for kind, lead, answer in probe_leads:
        cut = text.index(lead) + len(lead)
        probes.append({"kind": kind, "prefix": text[:cut], "answer": " " + answer})
    facts = {"name": c.name, "animal": c.animal, "place": c.place[1], "colour": c.colour,
             "object": c.obj, "friend": c.friend}
    return Story(text, facts, probes)


def chat_prompt(story: Story) -> str:
    """A user request that names the hero and animal; the story is the assistant's answer."""
    f = story.facts
    return f"Tell me a story about {_a(f['animal'])} named {f['name']}."


def make_stories(seed: int, count: int, min_events: int, max_events: int) -> list[Story]:
    rng = random.Random(seed)
    return [make_story(rng, rng.randint(min_events, max_events)) for _ in range(count)]
