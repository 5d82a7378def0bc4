"""Word lists for the procedural story corpus. Every story fact is drawn from these lists."""

NAMES = [
    "Tom", "Lily", "Max", "Mia", "Ben", "Anna", "Sam", "Lucy", "Jack", "Emma", "Leo", "Zoe",
    "Finn", "Ruby", "Oscar", "Ella", "Hugo", "Nora", "Milo", "Ivy", "Theo", "Rosa", "Felix",
    "Hazel", "Otto", "Luna", "Jasper", "Poppy", "Arlo", "Daisy", "Kai", "Willow", "Ezra", "Clara",
    "Rufus", "Greta", "Basil", "Olive", "Toby", "Pearl", "Nico", "Maple", "Ollie", "Iris",
    "Gus", "Fern", "Louie", "Wren", "Pip", "June",
]
ANIMALS = [
    "cat", "dog", "bunny", "fox", "bear", "mouse", "duck", "frog", "owl", "pig", "lion", "tiger",
    "horse", "sheep", "goat", "squirrel", "turtle", "penguin", "monkey", "puppy", "kitten",
    "hedgehog", "deer", "otter",
]
COLOURS = [
    "red", "blue", "green", "yellow", "purple", "orange", "pink", "white", "black", "brown",
    "silver", "golden",
]
OBJECTS = [
    "ball", "kite", "hat", "box", "boat", "drum", "book", "cup", "scarf", "bike", "bell", "car",
    "umbrella", "blanket", "shovel", "basket", "train", "balloon", "crayon", "spoon", "lamp",
    "jar", "ribbon", "shell", "whistle",
]
PLACES = [
    ("a small house", "the small house"), ("a big forest", "the big forest"),
    ("a quiet village", "the quiet village"), ("a sunny farm", "the sunny farm"),
    ("a tall tree", "the tall tree"), ("a little cave", "the little cave"),
    ("a busy town", "the busy town"), ("a green valley", "the green valley"),
    ("a cozy barn", "the cozy barn"), ("a sandy beach", "the sandy beach"),
    ("a snowy hill", "the snowy hill"), ("an old castle", "the old castle"),
    ("a wide meadow", "the wide meadow"), ("a pretty garden", "the pretty garden"),
    ("a deep pond", "the deep pond"), ("a windy island", "the windy island"),
]
FOODS = ["apples", "cake", "soup", "bread", "cookies", "carrots", "berries", "honey", "pie", "cheese", "milk", "nuts"]
FEELINGS = ["happy", "sad", "tired", "excited", "scared", "proud", "hungry", "sleepy", "brave", "curious"]
WEATHER = [
    "the sun was shining", "it was raining", "the wind was blowing", "it was snowing",
    "the sky was cloudy", "it was very warm", "it was cold and grey", "the stars were out",
]
SPOTS = [
    "under the bed", "behind the door", "in the grass", "near the river", "on the roof",
    "inside a box", "by the big rock", "under a leaf", "in the kitchen", "behind the tree",
]
GAMES = ["hide and seek", "tag", "catch", "a guessing game", "a running game", "a clapping game"]
SOUNDS = ["a loud noise", "a soft song", "a funny sound", "a strange buzz", "a little bell", "a happy laugh"]
