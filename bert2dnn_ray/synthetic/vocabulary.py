"""The vocabulary of the synthetic e-commerce data: data only (and the helper that spells sizes).

Slot probabilities, colours, genders, sizes, brands by group, modifiers, price phrases, suffixes and
the ambiguous heads; the product concepts are in :mod:`.concepts`, and :data:`HELDOUT_NOUNS` is
drawn from them. :mod:`.compiled` turns it into numpy lookup tables and :mod:`.generator` draws from
those; any edit here changes the generated data.
"""

from __future__ import annotations

from .concepts import CONCEPTS, E, F, G, H

# Slot probabilities for an ordinary (unambiguous) query. Real queries are short: 2-4 words typical.
P_BRAND = 0.2
P_GENDER = 0.35
P_MOD = 0.4
P_MOD2 = 0.1
P_MOD_CONCEPT = 0.5  # a modifier comes from the product's own list (else the category's/shared)
P_MOD_SHARED = 0.2  # ... of the rest, from the cross-category list
P_COLOUR = 0.25
P_SIZE = 0.25
P_PRICE = 0.1
P_SUFFIX = 0.06
P_TYPO = 0.03
P_CAPITAL = 0.03
# Ambiguous heads: share of all rows, and share of those without a deciding context word.
P_AMBIGUOUS = 0.08
P_BARE = 0.3
# Popularity of a held-out synonym (the products that have one: concepts.HELD_CONCEPT_WEIGHT).
HELD_NOUN_WEIGHT = 1.5
# Unlabeled query-log structure.
REPEAT_RATE = 0.15
POPULAR_POOL_FRACTION = 0.01
ZIPF_EXPONENT = 1.0

COLOURS: list[tuple[str, list[str]]] = [
    ("Black", ["black"]),
    ("White", ["white"]),
    ("Grey", ["grey", "gray"]),
    ("Blue", ["blue"]),
    ("Red", ["red"]),
    ("Green", ["green"]),
    ("Pink", ["pink"]),
    ("Silver", ["silver"]),
    ("Gold", ["gold"]),
    ("Brown", ["brown"]),
    ("Beige", ["beige", "tan"]),
    ("Purple", ["purple"]),
    ("Orange", ["orange"]),
    ("Yellow", ["yellow"]),
]

GENDERS: list[tuple[str, list[str]]] = [
    ("Men's", ["mens", "men", "men's", "for men"]),
    ("Women's", ["womens", "women", "women's", "ladies", "for women"]),
    ("Kids'", ["kids", "boys", "girls", "toddler", "youth"]),
]


def _sizes_numeric(values: list[str], title_fmt: str, query_fmts: list[str]) -> list[tuple[str, list[str]]]:
    return [(title_fmt.format(v), [q.format(v) for q in query_fmts]) for v in values]


SIZE_KINDS: dict[str, list[tuple[str, list[str]]]] = {
    "shoe": _sizes_numeric(
        ["6", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12"], "Size {}", ["size {}", "sz {}"]
    ),
    "apparel": [
        ("X-Small", ["xs", "x small", "size xs"]),
        ("Small", ["small", "size s", "size small"]),
        ("Medium", ["medium", "size m", "size medium"]),
        ("Large", ["large", "size l", "size large"]),
        ("X-Large", ["xl", "x large", "size xl"]),
        ("XX-Large", ["xxl", "2xl"]),
        ("3X", ["3x", "3xl"]),
    ],
    "waist": [
        ("30W x 30L", ["30x30", "30 x 30"]),
        ("32W x 30L", ["32x30"]),
        ("32W x 32L", ["32x32", "32 x 32"]),
        ("34W x 32L", ["34x32"]),
        ("36W x 32L", ["36x32"]),
        ("38W x 30L", ["38x30"]),
    ],
    "tv": _sizes_numeric(["32", "43", "50", "55", "65", "75", "85"], "{}-Inch", ["{} inch", "{}in", "{} in"]),
    "monitor": _sizes_numeric(["22", "24", "27", "32", "34"], "{}-Inch", ["{} inch", "{}in"]),
    "storage": [
        ("64GB", ["64gb", "64 gb"]),
        ("128GB", ["128gb", "128 gb"]),
        ("256GB", ["256gb", "256 gb"]),
        ("512GB", ["512gb"]),
        ("1TB", ["1tb", "1 tb", "1 terabyte"]),
        ("2TB", ["2tb", "2 tb"]),
    ],
    "watt": _sizes_numeric(["20", "30", "45", "65", "100"], "{}W", ["{}w", "{} watt"]),
    "mah": [
        ("10000mAh", ["10000mah", "10k mah"]),
        ("20000mAh", ["20000mah", "20k mah"]),
        ("5000mAh", ["5000mah"]),
    ],
    "cable": [
        ("3 ft", ["3ft", "3 ft", "3 foot"]),
        ("6 ft", ["6ft", "6 ft", "6 foot"]),
        ("10 ft", ["10ft", "10 ft"]),
    ],
    "bed": [
        ("Twin", ["twin", "twin size"]),
        ("Full", ["full", "full size"]),
        ("Queen", ["queen", "queen size"]),
        ("King", ["king", "king size"]),
    ],
    "pan": _sizes_numeric(["8", "10", "12"], "{}-Inch", ["{} inch", "{}in"]),
    "pieces": _sizes_numeric(["5", "10", "12", "16"], "{}-Piece", ["{} piece", "{} pc"]),
    "set": [
        ("Set of 2", ["set of 2", "2 pack"]),
        ("Set of 4", ["set of 4", "4 pack"]),
        ("Set of 6", ["set of 6", "6 pack"]),
    ],
    "rug": [
        ("5' x 7'", ["5x7", "5 x 7"]),
        ("8' x 10'", ["8x10", "8 x 10"]),
        ("3' x 5'", ["3x5"]),
        ("6' x 9'", ["6x9"]),
    ],
    "quart": _sizes_numeric(["3", "6", "8"], "{} Quart", ["{} quart", "{} qt"]),
    "weight": [
        ("12 oz", ["12 oz", "12 ounce"]),
        ("16 oz", ["16 oz", "1 lb", "1 pound"]),
        ("2 lb", ["2 lb", "32 oz", "2 pound"]),
        ("5 lb", ["5 lb", "5 pound"]),
        ("1 kg", ["1 kg", "1kg"]),
    ],
    "count": [
        ("Pack of 6", ["6 pack", "pack of 6"]),
        ("Pack of 12", ["12 pack", "pack of 12"]),
        ("Pack of 24", ["24 pack", "pack of 24"]),
        ("100 Count", ["100 count", "100 ct"]),
        ("20 Count", ["20 count", "20 ct"]),
        ("40 Count", ["40 count", "40 ct"]),
    ],
    "volume": [
        ("1 Gallon", ["1 gallon", "gallon"]),
        ("Half Gallon", ["half gallon"]),
        ("64 fl oz", ["64 oz", "64 fl oz"]),
        ("1 Liter", ["1 liter", "1l"]),
    ],
    "eggs": [
        ("12 Count", ["dozen", "12 count"]),
        ("18 Count", ["18 count", "18 ct"]),
        ("24 Count", ["24 count"]),
    ],
}

# Brands by group: the query spelling (lower case). Some brands sit in groups of two categories.
# fmt: off
BRAND_GROUPS: dict[str, list[str]] = {
    # electronics
    "audio": ["sony", "bose", "jbl", "beats", "sennheiser", "anker", "skullcandy", "samsung"],
    "computing": ["dell", "hp", "lenovo", "asus", "acer", "microsoft", "logitech", "razer", "amazon basics"],
    "video": ["samsung", "lg", "sony", "tcl", "vizio", "hisense", "roku"],
    "camera": ["canon", "nikon", "sony", "gopro", "fujifilm", "dji", "panasonic"],
    "smarthome": ["ring", "arlo", "wyze", "eufy", "blink", "google"],
    "mobile": ["samsung", "google", "motorola", "oneplus", "anker", "belkin", "amazon basics"],
    "network": ["tp link", "netgear", "asus", "linksys", "eero", "google"],
    "storage": ["sandisk", "western digital", "seagate", "samsung", "kingston", "lexar", "crucial"],
    "printing": ["hp", "epson", "brother", "canon"],
    "gaming": ["sony", "microsoft", "nintendo", "razer", "logitech", "turtle beach", "corsair"],
    # fashion
    "athletic": ["nike", "adidas", "new balance", "asics", "puma", "under armour", "brooks", "skechers", "reebok"],
    "casual": ["levis", "gap", "old navy", "uniqlo", "hanes", "calvin klein", "tommy hilfiger", "ralph lauren", "champion"],
    "outdoor": ["north face", "columbia", "patagonia", "timberland", "ugg", "carhartt", "lands end"],
    "luxury": ["michael kors", "coach", "kate spade", "fossil", "ray ban", "guess", "pandora"],
    "womens": ["zara", "free people", "lululemon", "spanx", "torrid", "anthropologie"],
    # home
    "furniture": ["ikea", "ashley", "zinus", "west elm", "wayfair", "walker edison", "christopher knight"],
    "bedding": ["casper", "brooklinen", "tempur pedic", "zinus", "utopia bedding", "pottery barn", "kirkland"],
    "cookware": ["lodge", "le creuset", "t fal", "calphalon", "cuisinart", "all clad", "pyrex", "oxo", "amazon basics"],
    "appliances": ["ninja", "cuisinart", "kitchenaid", "keurig", "instant", "hamilton beach", "breville", "samsung"],
    "cleaning": ["dyson", "shark", "bissell", "irobot", "swiffer", "o cedar", "rubbermaid", "great value"],
    "decor": ["threshold", "mainstays", "better homes", "umbra", "yankee candle", "amazon basics", "kirkland"],
    # grocery
    "coffee": ["starbucks", "folgers", "lavazza", "peets", "twinings", "lipton", "dunkin"],
    "drinks": ["la croix", "coca cola", "pepsi", "gatorade", "tropicana", "poland spring", "red bull"],
    "snacks": ["lays", "doritos", "pringles", "ritz", "oreo", "kind", "clif", "nature valley", "planters", "jack links"],
    "pantry": ["barilla", "kirkland", "great value", "bertolli", "goya", "campbells", "heinz", "mccormick", "kraft"],
    "breakfast": ["quaker", "kelloggs", "general mills", "jif", "skippy", "smuckers", "kirkland"],
    "dairy": ["horizon", "tillamook", "kerrygold", "fairlife", "organic valley", "land o lakes", "great value"],
    "fresh": ["dole", "driscolls", "chiquita", "perdue", "tyson", "oscar mayer", "great value"],
    "baby": ["enfamil", "similac", "gerber", "happy baby"],
    "nutrition": ["optimum nutrition", "orgain", "muscle milk", "premier protein"],
    "candy": ["ghirardelli", "hersheys", "haribo", "lindt", "skittles"],
}
# fmt: on

BRAND_TITLES = {
    "tp link": "TP-Link", "lg": "LG", "hp": "HP", "jbl": "JBL", "tcl": "TCL", "dji": "DJI", "asics": "ASICS",
    "ugg": "UGG", "t fal": "T-fal", "o cedar": "O-Cedar", "irobot": "iRobot", "kelloggs": "Kellogg's",
    "campbells": "Campbell's", "peets": "Peet's", "driscolls": "Driscoll's", "jack links": "Jack Link's",
    "land o lakes": "Land O'Lakes", "all clad": "All-Clad", "la croix": "LaCroix", "oneplus": "OnePlus",
    "tempur pedic": "Tempur-Pedic", "levis": "Levi's", "lands end": "Lands' End", "ray ban": "Ray-Ban",
    "hersheys": "Hershey's", "gopro": "GoPro", "the north face": "The North Face", "north face": "The North Face",
    "kind": "KIND", "red bull": "Red Bull", "happy baby": "Happy Baby", "oxo": "OXO", "kitchenaid": "KitchenAid", "eero": "eero", "hisense": "Hisense", "amazon basics": "Amazon Basics",
}  # fmt: skip

CATEGORY_MODS: list[list[str]] = [
    # electronics
    ["wireless", "bluetooth", "portable", "smart", "refurbished", "rechargeable", "usb c", "compact",
     "budget", "high end", "renewed", "latest", "waterproof", "fast", "digital", "hd"],
    # fashion
    ["casual", "summer", "winter", "cotton", "leather", "vintage", "slim fit", "oversized", "lightweight",
     "waterproof", "designer", "petite", "stretch", "wool", "linen", "athletic", "cute", "trendy"],
    # home
    ["modern", "farmhouse", "rustic", "mid century", "stainless steel", "velvet", "wooden", "outdoor",
     "decorative", "dishwasher safe", "non toxic", "boho", "minimalist", "heavy duty", "cotton", "ceramic"],
    # grocery
    ["organic", "gluten free", "keto", "sugar free", "vegan", "low sodium", "family size", "bulk", "non gmo",
     "high protein", "natural", "kosher", "healthy", "fresh", "low carb", "snack size"],
]  # fmt: skip
SHARED_MODS = ["cheap", "best", "premium", "mini", "large", "small", "new", "portable", "lightweight",
               "travel", "luxury", "heavy duty", "professional", "top rated", "eco friendly", "black friday"]  # fmt: skip
PRICES = ["under 20", "under 50", "under 100", "under $200", "under 500", "below 30", "less than 40",
          "cheap", "on sale", "deals", "clearance", "best price", "discount", "under $25"]  # fmt: skip
SUFFIXES = ["near me", "best rated", "2024", "reviews", "gift", "for him", "for her", "for dad", "for mom",
            "free shipping", "in stock", "bundle", "replacement", "same day delivery", "for kids", "sale"]  # fmt: skip


# Ambiguous heads: (head, relative frequency, colour allowed, {category: (sense prior, contexts)}).
# A context is a template around the head ("{} of water" -> "case of water").
# fmt: off
AMBIGUOUS: list[tuple[str, float, bool, dict[int, tuple[float, list[str]]]]] = [
    ("apple", 1.0, True, {
        G: (0.5, ["fresh {}", "organic {}", "honeycrisp {}", "gala {}", "{} sauce", "green {}",
                  "{} cider vinegar", "dried {} slices", "{} pie filling"]),
        E: (0.5, ["{} watch", "{} airpods", "{} charger", "{} pencil", "{} tv remote", "{} macbook",
                  "{} iphone 15", "{} magic keyboard"])}),
    ("case", 1.0, True, {
        E: (0.45, ["phone {}", "iphone {}", "laptop {}", "airpods {}", "galaxy s23 {}", "tablet {}"]),
        G: (0.3, ["{} of water", "{} of soda", "{} of sparkling water", "{} of energy drinks"]),
        H: (0.25, ["pillow {}", "display {}", "storage {}"])}),
    ("watch", 1.0, True, {
        E: (0.55, ["smart {}", "fitness {}", "gps {}", "{} charger", "{} screen protector"]),
        F: (0.45, ["mens {}", "womens {}", "analog {}", "luxury {}", "{} with leather strap", "dress {}"])}),
    ("mouse", 0.6, True, {
        E: (0.7, ["wireless {}", "gaming {}", "bluetooth {}", "ergonomic {}", "{} pad"]),
        H: (0.3, ["{} trap", "{} traps", "{} repellent", "{} bait station"])}),
    ("glasses", 0.7, False, {
        F: (0.55, ["reading {}", "blue light {}", "prescription {}", "cat eye {}"]),
        H: (0.45, ["wine {}", "drinking {}", "champagne {}", "whiskey {}", "pint {}"])}),
    ("cups", 0.5, True, {
        H: (0.5, ["coffee {}", "measuring {}", "paper {}", "plastic {}", "tea {}"]),
        G: (0.5, ["k {}", "ramen {}", "fruit {}", "pudding {}", "peanut butter {}"])}),
    ("bag", 0.8, True, {
        F: (0.4, ["tote {}", "crossbody {}", "leather {}", "shoulder {}", "gym {}"]),
        E: (0.2, ["laptop {}", "camera {}"]),
        H: (0.2, ["trash {}s", "storage {}s", "vacuum {}s"]),
        G: (0.2, ["tea {}s", "coffee 2 lb {}", "rice 20 lb {}"])}),
    ("tablet", 0.5, False, {
        E: (0.7, ["android {}", "10 inch {}", "kids {}", "drawing {}", "samsung {}"]),
        H: (0.3, ["dishwasher {}s", "toilet bowl cleaner {}s", "washing machine cleaner {}s"])}),
    ("fan", 0.5, True, {
        H: (0.7, ["ceiling {}", "tower {}", "box {}", "oscillating {}", "bladeless {}"]),
        E: (0.3, ["cpu {}", "laptop cooling {}", "usb {}", "pc case {}"])}),
    ("stand", 0.5, True, {
        E: (0.5, ["laptop {}", "phone {}", "monitor {}", "headphone {}"]),
        H: (0.5, ["tv {}", "plant {}", "coat {}", "umbrella {}"])}),
    ("light", 0.6, True, {
        H: (0.6, ["night {}", "string {}s", "led ceiling {}", "porch {}", "under cabinet {}"]),
        E: (0.4, ["ring {}", "led video {}", "camera {}", "{} bar for monitor"])}),
    ("oil", 0.6, False, {
        G: (0.6, ["olive {}", "coconut {}", "avocado {}", "sesame {}", "vegetable {}"]),
        H: (0.4, ["essential {}", "{} diffuser", "lamp {}"])}),
    ("pods", 0.4, False, {
        G: (0.5, ["coffee {}", "espresso {}"]),
        H: (0.5, ["laundry {}", "dishwasher {}"])}),
    ("cover", 0.5, True, {
        H: (0.6, ["couch {}", "cushion {}", "patio furniture {}", "mattress {}"]),
        E: (0.4, ["laptop {}", "tablet {}", "camera lens {}", "keyboard {}"])}),
]
# fmt: on

HELDOUT_NOUNS: tuple[str, ...] = tuple(h for c in CONCEPTS for h in c.held)
