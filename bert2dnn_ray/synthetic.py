"""Deterministic synthetic e-commerce data: search queries (and query/title pairs) with gold labels.

Used by ``make smoke``, the tests and the benchmarks, so nothing is downloaded and no data is shipped.

Two tasks:

* ``query_category``: one ``text`` column (a search query such as ``"wireless noise cancelling
  headphones under 50"``) and a 4-way ``label`` (electronics, fashion, home, grocery).
* ``query_title``: ``query`` and ``title`` columns and a binary ``label`` (1 = the product title is
  relevant to the query: same product type and compatible brand, colour, size and gender).

Queries are assembled from slots (brand, gender, modifiers, colour, product noun, size, price,
suffix) in a few word orders, with typos at a small rate. What keeps the task from being trivial:

* **Ambiguous heads.** ``apple``, ``case``, ``mouse``, ``watch``, ``glasses``, ``bag`` ... belong to
  two or more categories; usually a context word decides (``apple watch`` vs ``honeycrisp apple``,
  ``phone case`` vs ``case of water``) but about a third of the time the head comes with neutral
  words only (``apple``, ``black watch under 100``) and the gold label is a coin flip weighted by
  the sense prior: irreducible error for any model.
* **Shared vocabulary.** Colours, price phrases, sizes (``large``, ``12 inch``, ``6 pack``), brands
  (``samsung``, ``amazon basics``) and words such as ``coffee``, ``tea``, ``tv``, ``shoe``, ``gaming``
  occur in several categories.
* **Held-out nouns** (:data:`HELDOUT_NOUNS`): a few popular synonyms (``earbuds``, ``sofa``,
  ``sneakers``, ``yogurt`` ...) occur only in the test and unlabeled splits, never in train or dev.
  A student that sees only the gold train labels has never seen these words; a pretrained teacher
  knows that ``sofa`` is a ``couch``, so distilling through the unlabeled transfer set teaches the
  student the new words.
* **Label noise** (``label_noise``) on every labeled split: a gold label is replaced by a random other
  class, as human annotation would be.

The unlabeled split comes from the same generator as test (held-out nouns included) and has the
repeat structure of a query log: 15% of its rows are copies of a pool of popular, mostly short
queries drawn with Zipf weights, on top of the natural collisions of head queries (``tv``,
``sofa``), so that about a third of 20k rows repeat an earlier row (more at larger sizes) and
de-duplication matters. Labeled splits have only the natural collisions.

Every split has its own random stream derived from ``(seed, split)``, so changing one split's size
does not change the others, and the same config always gives byte-identical tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pyarrow as pa
from pydantic import Field

from . import io
from .config import Strict

Task = Literal["query_category", "query_title"]

LABEL_NAMES: dict[str, list[str]] = {
    "query_category": ["electronics", "fashion", "home", "grocery"],
    "query_title": ["irrelevant", "relevant"],
}

SPLITS: tuple[str, ...] = ("train", "dev", "test", "unlabeled")
_SPLIT_CODE = {"train": 1, "dev": 2, "test": 3, "unlabeled": 4}
_ID_PREFIX = {"train": "tr", "dev": "dv", "test": "te", "unlabeled": "ul"}
# Splits whose queries may use the held-out nouns.
_HELDOUT_SPLITS = frozenset({"test", "unlabeled"})


class SyntheticConfig(Strict):
    """How much synthetic data to make, and of which task."""

    task: Task = "query_category"
    num_labeled: int = Field(1200, ge=0)
    num_dev: int = Field(300, ge=0)
    num_test: int = Field(500, ge=0)
    num_unlabeled: int = Field(20000, ge=0)
    seed: int = Field(13, ge=0)
    label_noise: float = Field(0.02, ge=0.0, le=0.5)


def label_names(task: str) -> list[str]:
    """The class names of ``task``, in label order."""
    try:
        return list(LABEL_NAMES[task])
    except KeyError:
        raise ValueError(f"unknown synthetic task {task!r}; expected one of {sorted(LABEL_NAMES)}") from None


# --------------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------------

E, F, H, G = 0, 1, 2, 3  # electronics, fashion, home, grocery

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
# Popularity of the products that have a held-out synonym, and of the held-out synonym itself.
HELD_CONCEPT_WEIGHT = 2.5
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
_ALL_G = (0, 1, 2)
_ADULT_G = (0, 1)
_WOMEN_G = (1,)


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

_BRAND_TITLES = {
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


class Concept(NamedTuple):
    """One product type: its query nouns (true synonyms) and what a product title for it looks like."""

    cat: int
    nouns: tuple[str, ...]
    held: tuple[str, ...] = ()  # synonyms that occur only in the test and unlabeled splits
    size: str | None = None  # key of SIZE_KINDS
    colour: bool = False
    genders: tuple[int, ...] = ()
    mods: tuple[str, ...] = ()  # product-specific query modifiers
    brands: str = ""  # key of BRAND_GROUPS
    titles: tuple[str, ...] = ()  # title nouns; empty = "loose" product (a title names the query noun)
    desc: tuple[str, ...] = ()  # title descriptors
    weight: float = 1.0


def _c(cat: int, nouns: str, **kw: Any) -> Concept:
    """Concept from comma-separated strings (nouns, held, mods, titles, desc)."""
    for key in ("held", "mods", "titles", "desc"):
        if isinstance(kw.get(key), str):
            kw[key] = tuple(s.strip() for s in kw[key].split(",") if s.strip())
    if kw.get("held"):
        kw.setdefault("weight", HELD_CONCEPT_WEIGHT)
    return Concept(cat, tuple(s.strip() for s in nouns.split(",")), **kw)


# fmt: off
CONCEPTS: list[Concept] = [
    # ---------------------------------------------------------------- electronics
    _c(E, "headphones, headset, earphones, over ear headphones, in ear headphones", held="earbuds",
       colour=True, brands="audio", mods="wireless, noise cancelling, bluetooth, sports, studio",
       titles="Headphones, Earphones, Headset",
       desc="Wireless Noise Cancelling Over-Ear, Bluetooth 5.3 In-Ear, Wireless Sports, Hi-Res Audio"),
    _c(E, "tv, smart tv, 4k tv, flat screen tv, led tv", held="television", size="tv", brands="video",
       mods="4k, smart, hdr, 120hz, flat screen", titles="Smart TV, LED TV, UHD TV",
       desc="4K UHD HDR, Class 4K Ultra HD, QLED 4K, Crystal UHD 4K"),
    _c(E, "camera, digital camera, dslr, mirrorless camera, point and shoot camera", held="camcorder",
       brands="camera", colour=True, mods="4k, compact, vlogging, travel",
       titles="Digital Camera, Mirrorless Camera", desc="24MP, 4K Video, Compact, Vlogging"),
    _c(E, "laptop, laptop computer, notebook computer, chromebook, gaming laptop", size="storage",
       colour=True, brands="computing", mods="thin, touchscreen, business, student, lightweight",
       titles="Laptop, Notebook PC", desc='15.6" FHD, 14" Thin and Light, 2-in-1 Touchscreen, Business'),
    _c(E, "smartphone, cell phone, android phone, unlocked phone", size="storage", colour=True,
       brands="mobile", mods="unlocked, 5g, dual sim, prepaid", titles="Smartphone, Cell Phone",
       desc="Unlocked Android, Dual SIM 5G, Factory Unlocked"),
    _c(E, "charger, usb c charger, wall charger, fast charger, charging block", size="watt", colour=True,
       brands="mobile", mods="fast, usb c, dual port, gan", titles="Charger, USB-C Wall Charger",
       desc="GaN Fast, Dual Port, PD 3.0"),
    _c(E, "power bank, portable charger, battery pack, external battery", size="mah", colour=True,
       brands="mobile", mods="fast charging, slim, magnetic", titles="Power Bank, Portable Charger",
       desc="Slim, Magnetic Wireless, USB-C Fast Charging"),
    _c(E, "usb c cable, charging cable, usb cable, phone cord", size="cable", colour=True, brands="mobile",
       mods="braided, fast charging", titles="USB-C Cable, Charging Cable", desc="Braided, Fast Charging, Nylon"),
    _c(E, "hdmi cable, hdmi cord, 4k hdmi cable", size="cable", brands="computing",
       titles="HDMI Cable", desc="High Speed, 8K 60Hz, Braided"),
    _c(E, "bluetooth speaker, portable speaker, wireless speaker, speaker", colour=True, brands="audio",
       mods="waterproof, loud, outdoor, mini", titles="Bluetooth Speaker, Portable Speaker",
       desc="Waterproof Portable, Loud Stereo, IP67 Wireless"),
    _c(E, "soundbar, sound bar, home theater speakers", brands="audio", mods="dolby atmos, wireless subwoofer",
       titles="Soundbar, Sound Bar", desc="Dolby Atmos, 2.1 Channel, with Wireless Subwoofer"),
    _c(E, "monitor, computer monitor, gaming monitor, pc monitor", size="monitor", brands="computing",
       mods="144hz, 4k, curved, ultrawide", titles="Monitor, Gaming Monitor", desc="IPS FHD, 144Hz, 4K UHD, Curved"),
    _c(E, "keyboard, mechanical keyboard, wireless keyboard, gaming keyboard", colour=True, brands="computing",
       mods="rgb, mechanical, ergonomic, compact", titles="Keyboard, Mechanical Keyboard",
       desc="RGB Backlit, Wireless, Ergonomic, Tenkeyless"),
    _c(E, "webcam, web camera, usb webcam, streaming camera", brands="computing", mods="1080p, 4k, streaming",
       titles="Webcam", desc="1080p HD, 4K, with Microphone"),
    _c(E, "security camera, doorbell camera, home security camera, wifi camera", colour=True, brands="smarthome",
       mods="outdoor, night vision, wireless", titles="Security Camera, Video Doorbell",
       desc="2K Outdoor, Wireless Night Vision, Indoor Pan-Tilt"),
    _c(E, "external hard drive, portable ssd, hard drive, ssd", size="storage", brands="storage",
       mods="portable, usb c, backup", titles="External Hard Drive, Portable SSD", desc="USB 3.2, Rugged, Portable"),
    _c(E, "flash drive, usb flash drive, thumb drive, usb stick", size="storage", brands="storage",
       titles="USB Flash Drive", desc="USB 3.1, High Speed, Dual Connector"),
    _c(E, "sd card, micro sd card, memory card, microsd", size="storage", brands="storage",
       titles="microSD Card, SD Card", desc="UHS-I U3, A2 V30, with Adapter"),
    _c(E, "smart watch, fitness tracker, activity tracker, fitness watch", colour=True, brands="mobile",
       mods="gps, heart rate, waterproof", titles="Smart Watch, Fitness Tracker", desc="GPS, Heart Rate, AMOLED"),
    _c(E, "game console, gaming console, video game console", colour=True, brands="gaming",
       titles="Video Game Console, Gaming Console", desc="Digital Edition, 1TB, Bundle"),
    _c(E, "game controller, controller, gamepad, joystick", colour=True, brands="gaming", mods="wireless, pro",
       titles="Wireless Controller, Gamepad", desc="Wireless, Pro, Bluetooth"),
    _c(E, "wifi router, router, wireless router, mesh wifi, wifi extender", brands="network",
       mods="wifi 6, mesh, dual band", titles="WiFi Router, Mesh WiFi System", desc="WiFi 6, AX3000 Dual-Band, Tri-Band"),
    _c(E, "printer, laser printer, inkjet printer, all in one printer", colour=True, brands="printing",
       mods="wireless, color", titles="Printer, All-in-One Printer", desc="Wireless, Color Inkjet, Monochrome Laser"),
    _c(E, "drone, camera drone, quadcopter", brands="camera", mods="4k, gps, foldable",
       titles="Drone, Camera Drone", desc="4K GPS, Foldable, Mini"),
    _c(E, "projector, mini projector, home theater projector", colour=True, brands="video",
       mods="4k, portable, outdoor", titles="Projector", desc="Native 1080p, Portable, 4K Home Theater"),
    _c(E, "microphone, usb microphone, mic, podcast microphone", colour=True, brands="audio",
       mods="usb, condenser, streaming", titles="USB Microphone, Condenser Microphone",
       desc="Podcast, Streaming, Cardioid"),
    # ---------------------------------------------------------------- fashion
    _c(F, "running shoes, tennis shoes, athletic shoes, walking shoes, gym shoes", held="sneakers", size="shoe",
       colour=True, genders=_ALL_G, brands="athletic", mods="breathable, cushioned, non slip",
       titles="Running Shoe, Athletic Shoes, Walking Shoe", desc="Lightweight Breathable, Cushioned, Mesh"),
    _c(F, "sweatshirt, pullover sweatshirt, crewneck sweatshirt, zip up sweatshirt", held="hoodie",
       size="apparel", colour=True, genders=_ALL_G, brands="casual", mods="fleece, oversized, graphic",
       titles="Sweatshirt, Pullover Sweatshirt", desc="Fleece, Heavyweight, Graphic"),
    _c(F, "pants, chinos, dress pants, khakis, slacks", held="trousers", size="waist", colour=True,
       genders=_ADULT_G, brands="casual", mods="slim fit, stretch, straight leg",
       titles="Pants, Chino Pants", desc="Slim Fit, Stretch, Straight Leg, Classic Fit"),
    _c(F, "boots, ankle boots, winter boots, combat boots, chelsea boots", size="shoe", colour=True,
       genders=_ALL_G, brands="outdoor", mods="waterproof, leather, insulated",
       titles="Boots, Ankle Boot", desc="Waterproof, Leather, Insulated"),
    _c(F, "sandals, slides, flip flops", size="shoe", colour=True, genders=_ALL_G, brands="athletic",
       titles="Sandals, Slide Sandal", desc="Comfort, Cushioned, Adjustable Strap"),
    _c(F, "heels, high heels, pumps, stilettos", size="shoe", colour=True, genders=_WOMEN_G, brands="womens",
       titles="Pumps, High Heels", desc="Pointed Toe, Block Heel, Stiletto"),
    _c(F, "slippers, house shoes, moccasins", size="shoe", colour=True, genders=_ALL_G, brands="outdoor",
       titles="Slippers", desc="Memory Foam, Fuzzy, Moccasin"),
    _c(F, "t shirt, t-shirt, tee, graphic tee, crew neck tee", size="apparel", colour=True, genders=_ALL_G,
       brands="casual", mods="crew neck, v neck, graphic", titles="T-Shirt, Tee", desc="Crew Neck, Short Sleeve, Cotton"),
    _c(F, "button down shirt, dress shirt, oxford shirt, flannel shirt", size="apparel", colour=True,
       genders=_ADULT_G, brands="casual", titles="Dress Shirt, Button Down Shirt",
       desc="Long Sleeve, Regular Fit, Slim Fit"),
    _c(F, "sweater, cardigan, knit sweater, cable knit sweater, turtleneck", size="apparel", colour=True,
       genders=_ALL_G, brands="casual", titles="Sweater, Cardigan", desc="Knit, Crewneck, Cable Knit"),
    _c(F, "jeans, denim jeans, skinny jeans, bootcut jeans", size="waist", colour=True, genders=_ALL_G,
       brands="casual", mods="high waisted, ripped, stretch, relaxed fit", titles="Jeans",
       desc="Skinny Fit, Straight Fit, High Rise, Relaxed Fit"),
    _c(F, "shorts, cargo shorts, bike shorts, denim shorts", size="apparel", colour=True, genders=_ALL_G,
       brands="athletic", titles="Shorts", desc="Athletic, Cargo, Quick Dry"),
    _c(F, "leggings, yoga pants, joggers, sweatpants", size="apparel", colour=True, genders=_ALL_G,
       brands="athletic", mods="high waisted, workout", titles="Leggings, Joggers", desc="High Waisted, Workout, Fleece"),
    _c(F, "dress, maxi dress, sundress, midi dress, cocktail dress", size="apparel", colour=True,
       genders=_WOMEN_G, brands="womens", mods="floral, summer, wrap", titles="Dress, Maxi Dress",
       desc="Floral, Casual Summer, Wrap"),
    _c(F, "skirt, mini skirt, pleated skirt, midi skirt", size="apparel", colour=True, genders=_WOMEN_G,
       brands="womens", titles="Skirt", desc="Pleated, A-Line, High Waist"),
    _c(F, "jacket, puffer jacket, rain jacket, winter coat, coat, windbreaker", size="apparel", colour=True,
       genders=_ALL_G, brands="outdoor", mods="waterproof, insulated, hooded",
       titles="Jacket, Winter Coat, Rain Jacket", desc="Waterproof, Insulated Puffer, Hooded"),
    _c(F, "blazer, suit jacket, sport coat", size="apparel", colour=True, genders=_ADULT_G, brands="casual",
       titles="Blazer, Suit Jacket", desc="Slim Fit, One Button, Casual"),
    _c(F, "baseball cap, beanie, sun hat, bucket hat, hat", colour=True, genders=_ALL_G, brands="outdoor",
       titles="Baseball Cap, Beanie, Hat", desc="Adjustable, Knit, Wide Brim"),
    _c(F, "scarf, winter scarf, silk scarf, shawl", colour=True, genders=_ADULT_G, brands="luxury",
       titles="Scarf", desc="Cashmere Feel, Silk, Plaid"),
    _c(F, "gloves, winter gloves, mittens", size="apparel", colour=True, genders=_ALL_G, brands="outdoor",
       titles="Gloves", desc="Touchscreen, Insulated, Fleece Lined"),
    _c(F, "handbag, purse, crossbody purse, shoulder purse, clutch, tote", colour=True, genders=_WOMEN_G,
       brands="luxury", mods="leather, small, designer", titles="Handbag, Crossbody Purse, Shoulder Purse",
       desc="Leather, Small, Large Capacity"),
    _c(F, "wallet, card holder, money clip", colour=True, genders=_ADULT_G, brands="luxury",
       mods="rfid, leather, slim", titles="Wallet, Card Holder", desc="RFID Blocking, Leather, Slim Bifold"),
    _c(F, "belt, leather belt, reversible belt", colour=True, genders=_ADULT_G, brands="casual",
       size="apparel", titles="Belt", desc="Leather, Reversible, Dress"),
    _c(F, "necklace, pendant, chain necklace, locket", colour=True, genders=_ADULT_G, brands="luxury",
       mods="sterling, 14k, dainty, layered", titles="Necklace, Pendant Necklace", desc="925 Sterling, 14K Plated, Dainty"),
    _c(F, "earrings, stud earrings, hoop earrings", colour=True, genders=_WOMEN_G, brands="luxury",
       mods="sterling, 14k, hypoallergenic", titles="Earrings, Stud Earrings", desc="Hypoallergenic, 925 Sterling, Hoop"),
    _c(F, "bracelet, bangle, charm bracelet", colour=True, genders=_ADULT_G, brands="luxury",
       titles="Bracelet", desc="Charm, Adjustable, Beaded"),
    _c(F, "socks, ankle socks, crew socks, compression socks", size="apparel", colour=True, genders=_ALL_G,
       brands="athletic", titles="Socks, Crew Socks", desc="Cushioned, Moisture Wicking, 6 Pairs"),
    _c(F, "bra, sports bra, bralette, wireless bra", size="apparel", colour=True, genders=_WOMEN_G,
       brands="womens", titles="Bra, Sports Bra", desc="Wireless, Padded, Seamless"),
    _c(F, "underwear, boxer briefs, boxers, briefs, panties", size="apparel", colour=True, genders=_ADULT_G,
       brands="casual", titles="Underwear, Boxer Briefs", desc="Cotton Stretch, Multipack, Breathable"),
    _c(F, "pajamas, pajama set, pjs, sleepwear, robe", size="apparel", colour=True, genders=_ALL_G,
       brands="casual", titles="Pajama Set, Pajamas", desc="Soft, Flannel, Short Sleeve"),
    _c(F, "swimsuit, bikini, one piece swimsuit, bathing suit, swim trunks", size="apparel", colour=True,
       genders=_ALL_G, brands="athletic", titles="Swimsuit, Bathing Suit", desc="Tummy Control, Quick Dry, Two Piece"),
    _c(F, "sunglasses, polarized sunglasses, aviator sunglasses, shades", colour=True, genders=_ALL_G,
       brands="luxury", mods="polarized, uv protection, oversized", titles="Sunglasses",
       desc="Polarized, UV400, Aviator, Square"),
    # ---------------------------------------------------------------- home
    _c(H, "couch, sectional, sectional couch, loveseat, sleeper couch", held="sofa", colour=True,
       brands="furniture", mods="l shaped, modular, reclining, small", titles="Couch, Sectional Couch, Loveseat",
       desc="Modern Upholstered, L-Shaped, Mid-Century, Convertible"),
    _c(H, "comforter, comforter set, bedspread, quilt, quilt set", held="duvet", size="bed", colour=True,
       brands="bedding", mods="all season, lightweight, down alternative",
       titles="Comforter Set, Quilt Set, Comforter", desc="All Season, Down Alternative, Lightweight, Reversible"),
    _c(H, "frying pan, nonstick pan, cast iron pan, saute pan, fry pan", held="skillet", size="pan",
       brands="cookware", mods="nonstick, cast iron, induction", titles="Frying Pan, Fry Pan, Saute Pan",
       desc="Nonstick, Pre-Seasoned Cast Iron, Tri-Ply Stainless Steel"),
    _c(H, "accent chair, armchair, recliner, rocking chair", colour=True, brands="furniture",
       titles="Accent Chair, Armchair", desc="Upholstered, Mid-Century Modern, Swivel"),
    _c(H, "office chair, desk chair, ergonomic chair, gaming chair", colour=True, brands="furniture",
       mods="ergonomic, mesh, lumbar support", titles="Office Chair, Desk Chair", desc="Ergonomic Mesh, High Back, Swivel"),
    _c(H, "coffee table, dining table, end table, side table, kitchen table", colour=True, brands="furniture",
       titles="Coffee Table, Dining Table, Side Table", desc="Wood, Round, Lift Top, Farmhouse"),
    _c(H, "desk, computer desk, standing desk, writing desk", colour=True, brands="furniture",
       titles="Computer Desk, Standing Desk", desc="Electric Height Adjustable, L-Shaped, Small"),
    _c(H, "bookshelf, bookcase, shelving unit, floating shelves, wall shelves", colour=True, brands="furniture",
       titles="Bookshelf, Bookcase", desc="5-Tier, Industrial, Wood"),
    _c(H, "dresser, chest of drawers, nightstand, bedside table", colour=True, brands="furniture",
       titles="Dresser, Nightstand", desc="6 Drawer, Wood, Modern"),
    _c(H, "tv stand, media console, entertainment center", colour=True, brands="furniture",
       titles="TV Stand, Entertainment Center", desc="Farmhouse, with Storage, Modern"),
    _c(H, "bed frame, platform bed, headboard, bunk bed", size="bed", colour=True, brands="furniture",
       titles="Bed Frame, Platform Bed", desc="Metal, Upholstered, with Headboard"),
    _c(H, "mattress, memory foam mattress, mattress topper, hybrid mattress", size="bed", brands="bedding",
       mods="memory foam, firm, cooling", titles="Mattress, Memory Foam Mattress", desc='12" Hybrid, Cooling Gel, Medium Firm'),
    _c(H, "bed sheets, sheet set, fitted sheet, flat sheet", size="bed", colour=True, brands="bedding",
       mods="cotton, deep pocket, bamboo", titles="Sheet Set, Bed Sheets", desc="100% Cotton, Deep Pocket, Microfiber"),
    _c(H, "pillows, bed pillows, throw pillows, pillow", size="set", colour=True, brands="bedding",
       titles="Bed Pillows, Throw Pillows", desc="Cooling, Down Alternative, Decorative"),
    _c(H, "blanket, throw blanket, weighted blanket, fleece blanket", colour=True, brands="bedding",
       titles="Throw Blanket, Weighted Blanket", desc="Soft Fleece, Knitted, 15 lbs"),
    _c(H, "cookware set, pots and pans set, pot set", size="pieces", colour=True, brands="cookware",
       mods="nonstick, stainless steel, induction", titles="Cookware Set, Pots and Pans Set", desc="Nonstick, Stainless Steel, Ceramic"),
    _c(H, "dutch oven, stock pot, saucepan, soup pot", size="quart", colour=True, brands="cookware",
       titles="Dutch Oven, Stock Pot", desc="Enameled Cast Iron, Stainless Steel, with Lid"),
    _c(H, "knife set, chef knife, kitchen knives, steak knives", size="pieces", brands="cookware",
       titles="Knife Set, Chef Knife", desc="High Carbon Stainless Steel, with Block, Japanese"),
    _c(H, "cutting board, chopping board, butcher block", brands="cookware",
       titles="Cutting Board", desc="Bamboo, Wood, Plastic Dishwasher Safe"),
    _c(H, "dinnerware set, dinner plates, plates, dish set", size="pieces", colour=True, brands="decor",
       titles="Dinnerware Set, Dinner Plates", desc="Stoneware, Porcelain, Service for 4"),
    _c(H, "coffee mugs, mugs, mug set, travel mug", size="set", colour=True, brands="decor",
       titles="Coffee Mugs, Mug Set", desc="Ceramic, 16 oz, Insulated"),
    _c(H, "silverware set, flatware set, utensils, cutlery set", size="pieces", colour=True, brands="cookware",
       titles="Silverware Set, Flatware Set", desc="Stainless Steel, Service for 8, Mirror Polished"),
    _c(H, "air fryer, air fryer oven", size="quart", colour=True, brands="appliances", mods="digital, large",
       titles="Air Fryer", desc="Digital, Dual Basket, Compact"),
    _c(H, "blender, smoothie blender, personal blender, immersion blender", colour=True, brands="appliances",
       titles="Blender", desc="Professional, Personal, Countertop"),
    _c(H, "coffee maker, espresso machine, drip coffee maker, coffee machine", colour=True, brands="appliances",
       mods="programmable, single serve, 12 cup", titles="Coffee Maker, Espresso Machine", desc="Programmable, Single Serve, 12-Cup"),
    _c(H, "toaster, toaster oven, 2 slice toaster", colour=True, brands="appliances",
       titles="Toaster, Toaster Oven", desc="2-Slice, Wide Slot, Convection"),
    _c(H, "microwave, microwave oven, countertop microwave", colour=True, brands="appliances",
       titles="Microwave Oven, Countertop Microwave", desc="1.1 Cu. Ft., 1000W, Compact"),
    _c(H, "vacuum, vacuum cleaner, cordless vacuum, robot vacuum, stick vacuum", colour=True,
       brands="cleaning", mods="cordless, pet hair, bagless", titles="Vacuum Cleaner, Cordless Vacuum",
       desc="Cordless Stick, Pet Hair, Bagless Upright"),
    _c(H, "mop, spin mop, steam mop, broom", brands="cleaning", titles="Mop, Spin Mop",
       desc="Microfiber, with Bucket, Steam"),
    _c(H, "bath towels, towel set, hand towels, beach towels", size="set", colour=True, brands="bedding",
       mods="cotton, quick dry, oversized", titles="Bath Towels, Towel Set", desc="100% Cotton, Quick Dry, Luxury"),
    _c(H, "shower curtain, shower curtain liner, bath mat, bath rug", colour=True, brands="decor",
       titles="Shower Curtain, Bath Mat", desc="Waterproof Fabric, Non-Slip, Plush"),
    _c(H, "curtains, blackout curtains, drapes, window curtains, curtain panels", colour=True, brands="decor",
       mods="blackout, sheer, thermal", titles="Blackout Curtains, Curtain Panels", desc="Blackout, Thermal Insulated, Sheer"),
    _c(H, "area rug, rug, runner rug, outdoor rug", size="rug", colour=True, brands="decor",
       mods="washable, shag, boho", titles="Area Rug, Rug", desc="Washable, Shag, Boho, Non-Slip"),
    _c(H, "wall art, canvas wall art, picture frame, wall decor", colour=True, brands="decor",
       titles="Wall Art, Picture Frame", desc="Canvas, Framed, Modern"),
    _c(H, "candles, scented candles, candle set, tea lights", size="set", colour=True, brands="decor",
       titles="Scented Candles, Candle Set", desc="Soy Wax, Long Lasting, Aromatherapy"),
    _c(H, "lamp, floor lamp, table lamp, desk lamp", colour=True, brands="decor", mods="dimmable, led",
       titles="Floor Lamp, Table Lamp", desc="LED Dimmable, Modern, Arc"),
    _c(H, "light bulbs, led bulbs, smart bulbs, bulbs", size="set", brands="decor",
       titles="LED Light Bulbs, Smart Bulbs", desc="60W Equivalent, Soft White, Dimmable"),
    _c(H, "storage bins, storage baskets, laundry basket, closet organizer, shoe rack", colour=True,
       brands="decor", titles="Storage Bins, Closet Organizer", desc="Foldable, Fabric, Stackable"),
    _c(H, "trash can, garbage can, kitchen trash can, step trash can", colour=True, brands="cleaning",
       titles="Trash Can, Kitchen Trash Can", desc="13 Gallon, Stainless Steel, Touchless"),
    _c(H, "hangers, velvet hangers, clothes hangers", size="set", colour=True, brands="decor",
       titles="Velvet Hangers, Clothes Hangers", desc="Non-Slip, Space Saving, Heavy Duty"),
    _c(H, "mirror, wall mirror, full length mirror, vanity mirror", colour=True, brands="decor",
       titles="Wall Mirror, Full Length Mirror", desc="Round, Arched, LED Lighted"),
    # ---------------------------------------------------------------- grocery
    _c(G, "cookies, chocolate chip cookies, shortbread, sandwich cookies", held="biscuits", size="weight",
       brands="snacks", mods="soft baked, chocolate chip", titles="Cookies, Chocolate Chip Cookies",
       desc="Soft Baked, Crunchy, Family Size"),
    _c(G, "pasta, spaghetti, penne, macaroni, fettuccine", held="noodles", size="weight", brands="pantry",
       mods="whole wheat, gluten free, egg", titles="Pasta, Spaghetti", desc="Whole Grain, Gluten Free, Italian"),
    _c(G, "greek yoghurt, kefir, skyr, yoghurt cups", held="yogurt", size="count", brands="dairy",
       mods="plain, vanilla, nonfat, strawberry", titles="Greek Yoghurt, Skyr, Kefir", desc="Plain Nonfat, Vanilla, Whole Milk"),
    _c(G, "coffee, ground coffee, coffee beans, whole bean coffee, cold brew coffee, instant coffee",
       size="weight", brands="coffee", mods="decaf, dark roast, medium roast, colombian",
       titles="Ground Coffee, Whole Bean Coffee", desc="Medium Roast, Dark Roast, Breakfast Blend"),
    _c(G, "green tea, black tea, herbal tea, chamomile tea, matcha, chai tea", size="count", brands="coffee",
       mods="decaf, caffeine free, loose leaf", titles="Tea Bags, Green Tea", desc="Caffeine Free, Organic, Loose Leaf"),
    _c(G, "potato chips, tortilla chips, kettle chips, chips, pita chips", size="weight", brands="snacks",
       mods="salted, bbq, spicy, baked", titles="Potato Chips, Tortilla Chips", desc="Original, Sea Salt, BBQ, Variety Pack"),
    _c(G, "crackers, pretzels, rice cakes, graham crackers", size="weight", brands="snacks",
       titles="Crackers, Pretzels", desc="Whole Grain, Original, Snack Packs"),
    _c(G, "granola bars, protein bars, snack bars, energy bars", size="count", brands="snacks",
       mods="chocolate, peanut butter, low sugar", titles="Protein Bars, Granola Bars", desc="Chocolate Chip, Peanut Butter, Variety Pack"),
    _c(G, "almonds, mixed nuts, cashews, pistachios, trail mix, peanuts", size="weight", brands="snacks",
       mods="roasted, salted, raw, unsalted", desc="Roasted Salted, Raw, Unsalted"),
    _c(G, "beef jerky, meat sticks, turkey jerky", size="weight", brands="snacks",
       titles="Beef Jerky, Meat Sticks", desc="Original, Teriyaki, Peppered"),
    _c(G, "cereal, breakfast cereal, granola, muesli, oatmeal, oats", size="weight", brands="breakfast",
       titles="Breakfast Cereal, Granola, Oatmeal", desc="Whole Grain, Honey Nut, Original"),
    _c(G, "peanut butter, almond butter, nut butter", size="weight", brands="breakfast",
       mods="creamy, crunchy, natural", titles="Peanut Butter, Almond Butter", desc="Creamy, Crunchy, No Stir"),
    _c(G, "jam, jelly, fruit preserves, strawberry jam", size="weight", brands="breakfast",
       titles="Fruit Preserves, Jam", desc="Strawberry, Grape, Seedless Raspberry"),
    _c(G, "honey, raw honey, manuka honey, local honey", size="weight", brands="breakfast",
       titles="Raw Honey, Honey", desc="Pure, Unfiltered, Clover"),
    _c(G, "rice, jasmine rice, basmati rice, brown rice, white rice", size="weight", brands="pantry",
       titles="Rice, Jasmine Rice", desc="Long Grain, Thai Hom Mali, Parboiled"),
    _c(G, "olive oil, extra virgin olive oil, canola oil, cooking spray", size="volume", brands="pantry",
       titles="Extra Virgin Olive Oil, Cooking Oil", desc="Cold Pressed, Imported, Light Tasting"),
    _c(G, "hot sauce, soy sauce, pasta sauce, marinara, salsa, bbq sauce, ketchup", size="weight",
       brands="pantry", desc="Original, Mild, Spicy, Low Sodium"),
    _c(G, "canned tuna, tuna fish, albacore tuna, chunk light tuna", size="count", brands="pantry",
       titles="Canned Tuna, Albacore Tuna", desc="in Water, Solid White, Wild Caught"),
    _c(G, "black beans, canned beans, pinto beans, chickpeas, kidney beans", size="count", brands="pantry",
       desc="Canned, Low Sodium, Organic"),
    _c(G, "chicken broth, bone broth, vegetable broth, chicken stock", size="count", brands="pantry",
       titles="Chicken Broth, Bone Broth", desc="Low Sodium, Organic, Free Range"),
    _c(G, "soup, canned soup, instant ramen, tomato soup, miso soup", size="count", brands="pantry",
       desc="Condensed, Hearty, Instant"),
    _c(G, "sparkling water, bottled water, spring water, seltzer, mineral water", size="count", brands="drinks",
       mods="flavored, lime, unflavored", titles="Sparkling Water, Spring Water", desc="Lime, Unflavored, Natural Spring"),
    _c(G, "soda, soft drinks, cola, diet soda, ginger ale", size="count", brands="drinks",
       titles="Soda, Soft Drink", desc="Zero Sugar, Classic, Cans"),
    _c(G, "energy drinks, energy drink, sports drink, electrolyte drink", size="count", brands="drinks",
       titles="Energy Drink, Sports Drink", desc="Sugar Free, Zero Calorie, Original"),
    _c(G, "orange juice, apple juice, juice, cranberry juice, lemonade", size="volume", brands="drinks",
       desc="No Pulp, 100% Juice, Not From Concentrate"),
    _c(G, "milk, whole milk, almond milk, oat milk, lactose free milk", size="volume", brands="dairy",
       desc="Unsweetened, Vitamin D, Barista Edition"),
    _c(G, "cheese, cheddar cheese, shredded cheese, parmesan, cream cheese, mozzarella", size="weight",
       brands="dairy", desc="Sharp, Shredded, Sliced, Block"),
    _c(G, "eggs, large eggs, free range eggs, egg whites", size="eggs", brands="dairy",
       titles="Large Eggs, Free Range Eggs", desc="Grade A, Cage Free, Pasture Raised"),
    _c(G, "butter, salted butter, unsalted butter, ghee", size="weight", brands="dairy",
       titles="Butter, Unsalted Butter", desc="Grass-Fed, Salted, Sticks"),
    _c(G, "bananas, apples, strawberries, blueberries, grapes, avocados, lemons", size="weight", brands="fresh",
       mods="organic, fresh, ripe", desc="Fresh, Organic, Premium"),
    _c(G, "potatoes, onions, spinach, tomatoes, carrots, broccoli", size="weight", brands="fresh",
       mods="organic, fresh", desc="Fresh, Organic, Baby"),
    _c(G, "chicken breast, ground beef, bacon, pork chops, steak", size="weight", brands="fresh",
       mods="boneless, grass fed, thick cut", desc="Boneless Skinless, Grass-Fed, Thick Cut"),
    _c(G, "salmon, shrimp, cod fillets, tilapia", size="weight", brands="fresh", mods="wild caught, frozen",
       desc="Wild Caught, Frozen, Fresh Atlantic"),
    _c(G, "frozen pizza, frozen vegetables, frozen meals, ice cream, frozen waffles", size="count",
       brands="pantry", desc="Family Size, Microwaveable, Classic"),
    _c(G, "chocolate, dark chocolate, chocolate bar, milk chocolate", size="weight", brands="candy",
       titles="Dark Chocolate Bar, Milk Chocolate", desc="70% Cacao, Sea Salt Caramel, Minis"),
    _c(G, "candy, gummy bears, gummies, lollipops, hard candy", size="weight", brands="candy",
       desc="Assorted, Sour, Party Size"),
    _c(G, "flour, all purpose flour, almond flour, baking soda, baking powder, sugar, brown sugar",
       size="weight", brands="pantry", desc="Unbleached, Organic, Pure Cane"),
    _c(G, "spices, black pepper, garlic powder, cinnamon, paprika, sea salt, seasoning", size="weight",
       brands="pantry", desc="Ground, Organic, Grinder"),
    _c(G, "protein powder, whey protein, plant protein powder", size="weight", brands="nutrition",
       mods="chocolate, vanilla, unflavored", titles="Protein Powder, Whey Protein", desc="Chocolate, Vanilla, Unflavored"),
    _c(G, "baby formula, infant formula, baby food, baby cereal", size="count", brands="baby",
       desc="Stage 1, Organic, Sensitive"),
    _c(G, "bread, sourdough bread, whole wheat bread, bagels, tortillas", size="count", brands="fresh",
       desc="Whole Grain, Sliced, Plain"),
]
# fmt: on

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


# --------------------------------------------------------------------------------------------------
# Compiled tables (built once at import)
# --------------------------------------------------------------------------------------------------


class _Groups:
    """Groups of integer items, for vectorised "pick a random member of group g[i]" draws.

    Group id -1 (and any empty group) yields -1.
    """

    def __init__(self, groups: list[list[int]]):
        lengths = [len(g) for g in groups] + [0]  # trailing empty group serves id -1
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths[:-1])]).astype(np.int64)
        flat = [x for g in groups for x in g]
        self.items = np.asarray(flat + [-1], dtype=np.int64)

    def pick(self, rng: np.random.Generator, gid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns (item, local position) per row; -1 where the group is empty."""
        n_items = self.lengths[gid]
        local = (rng.random(gid.shape[0]) * n_items).astype(np.int64)
        pos = np.minimum(self.offsets[gid] + local, self.items.shape[0] - 1)
        ok = n_items > 0
        return np.where(ok, self.items[pos], -1), np.where(ok, local, -1)

    def pick_other(self, rng: np.random.Generator, gid: np.ndarray, local: np.ndarray) -> np.ndarray:
        """A member of group g[i] other than the one at ``local[i]``; -1 where there is none."""
        n_items = self.lengths[gid]
        step = 1 + (rng.random(gid.shape[0]) * np.maximum(n_items - 1, 1)).astype(np.int64)
        other = (np.maximum(local, 0) + step) % np.maximum(n_items, 1)
        pos = np.minimum(self.offsets[gid] + other, self.items.shape[0] - 1)
        return np.where((n_items > 1) & (local >= 0), self.items[pos], -1)


def _text_array(values: list[str]) -> np.ndarray:
    """Object array of strings with a trailing '' so that index -1 gives an empty string."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    out[-1] = ""
    return out


class _Variants:
    """Canonical values (grouped by kind) with query spellings: colours, sizes, genders."""

    def __init__(self, kinds: dict[str, list[tuple[str, list[str]]]]):
        self.kind_ids = {k: i for i, k in enumerate(kinds)}
        titles: list[str] = []
        kind_groups: list[list[int]] = []
        variant_groups: list[list[int]] = []
        variants: list[str] = []
        for values in kinds.values():
            group = []
            for title, spellings in values:
                group.append(len(titles))
                titles.append(title)
                variant_groups.append(list(range(len(variants), len(variants) + len(spellings))))
                variants.extend(spellings)
            kind_groups.append(group)
        self.kinds = _Groups(kind_groups)
        self.spellings = _Groups(variant_groups)
        self.title = _text_array(titles)
        self.query = _text_array(variants)


_COLOURS = _Variants({"colour": COLOURS})
_SIZES = _Variants(SIZE_KINDS)
_GENDER_SETS = sorted({c.genders for c in CONCEPTS if c.genders})
_GENDERS = _Variants({str(s): [GENDERS[i] for i in s] for s in _GENDER_SETS})

# Brands: query spellings and title spellings; groups by name.
_BRAND_NAMES = sorted({b for group in BRAND_GROUPS.values() for b in group})
_BRAND_INDEX = {b: i for i, b in enumerate(_BRAND_NAMES)}
_BRAND_GROUP_IDS = {name: i for i, name in enumerate(BRAND_GROUPS)}
_BRANDS = _Groups([[_BRAND_INDEX[b] for b in group] for group in BRAND_GROUPS.values()])
_BRAND_Q = _text_array(_BRAND_NAMES)
_BRAND_T = _text_array([_BRAND_TITLES.get(b, b.title()) for b in _BRAND_NAMES])
# Position of a brand within a group ([-1, -1] and non-members give -1).
_BRAND_LOCAL = np.full((len(BRAND_GROUPS) + 1, len(_BRAND_NAMES) + 1), -1, dtype=np.int64)
for _gi, _group in enumerate(BRAND_GROUPS.values()):
    for _pos, _b in enumerate(_group):
        _BRAND_LOCAL[_gi, _BRAND_INDEX[_b]] = _pos

# Modifiers: groups 0-3 by category, 4 shared, 5+i product-specific for concept i.
_MOD_WORDS: list[str] = []
_MOD_GROUP_LISTS: list[list[str]] = [*CATEGORY_MODS, SHARED_MODS, *[list(c.mods) for c in CONCEPTS]]
_MOD_INDEX: dict[str, int] = {}
for _group in _MOD_GROUP_LISTS:
    for _w in _group:
        _MOD_INDEX.setdefault(_w, len(_MOD_WORDS))
        if _MOD_INDEX[_w] == len(_MOD_WORDS):
            _MOD_WORDS.append(_w)
_MODS = _Groups([[_MOD_INDEX[w] for w in g] for g in _MOD_GROUP_LISTS])
_MOD_Q = _text_array(_MOD_WORDS)
_MOD_SHARED = 4
_PRICE_Q = _text_array(PRICES)
_SUFFIX_Q = _text_array(SUFFIXES)

# Surfaces: every noun (or ambiguous head with or without context) a query can be built around.
_NC = len(CONCEPTS)
_surf_text: list[str] = []
_surf_concept: list[int] = []
_surf_cat: list[int] = []
_surf_held: list[bool] = []
_surf_within: list[float] = []  # weight within its concept (or within the ambiguous block)
_surf_colour_ok: list[bool] = []

for _ci, _concept in enumerate(CONCEPTS):
    for _rank, _noun in enumerate(_concept.nouns):
        _surf_text.append(_noun)
        _surf_concept.append(_ci)
        _surf_cat.append(_concept.cat)
        _surf_held.append(False)
        _surf_within.append(1.0 / (_rank + 1) ** 0.8)
        _surf_colour_ok.append(_concept.colour)
    for _noun in _concept.held:
        _surf_text.append(_noun)
        _surf_concept.append(_ci)
        _surf_cat.append(_concept.cat)
        _surf_held.append(True)
        _surf_within.append(HELD_NOUN_WEIGHT)
        _surf_colour_ok.append(_concept.colour)

_amb_total = sum(h[1] for h in AMBIGUOUS)
for _head, _freq, _colour_ok, _senses in AMBIGUOUS:
    for _cat, (_prior, _contexts) in _senses.items():
        mass = _freq / _amb_total * _prior
        _surf_text.append(_head)  # bare head: no deciding context
        _surf_concept.append(-1)
        _surf_cat.append(_cat)
        _surf_held.append(False)
        _surf_within.append(mass * P_BARE)
        _surf_colour_ok.append(_colour_ok)
        for _ctx in _contexts:
            _surf_text.append(_ctx.format(_head))
            _surf_concept.append(-1)
            _surf_cat.append(_cat)
            _surf_held.append(False)
            _surf_within.append(mass * (1 - P_BARE) / len(_contexts))
            _surf_colour_ok.append(_colour_ok)

_SURF_TEXT = _text_array(_surf_text)
_SURF_TITLE = _text_array([t.title() for t in _surf_text])
_SURF_CONCEPT = np.asarray(_surf_concept, dtype=np.int64)
_SURF_CAT = np.asarray(_surf_cat, dtype=np.int64)
_SURF_HELD = np.asarray(_surf_held, dtype=bool)
_SURF_WITHIN = np.asarray(_surf_within, dtype=np.float64)
_SURF_COLOUR_OK = np.asarray(_surf_colour_ok, dtype=bool)

# Per-concept lookups (index _NC is a dummy "no concept" row for ambiguous surfaces).
_C_CAT = np.asarray([c.cat for c in CONCEPTS] + [0], dtype=np.int64)
_C_SIZE_KIND = np.asarray(
    [_SIZES.kind_ids[c.size] if c.size else -1 for c in CONCEPTS] + [-1], dtype=np.int64
)
_C_GENDER_SET = np.asarray(
    [_GENDERS.kind_ids[str(c.genders)] if c.genders else -1 for c in CONCEPTS] + [-1], dtype=np.int64
)
_C_BRAND_GROUP = np.asarray([_BRAND_GROUP_IDS[c.brands] for c in CONCEPTS] + [-1], dtype=np.int64)
_C_HAS_MODS = np.asarray([bool(c.mods) for c in CONCEPTS] + [False], dtype=bool)
_C_COLOUR = np.asarray([c.colour for c in CONCEPTS] + [False], dtype=bool)
_C_LOOSE = np.asarray([not c.titles for c in CONCEPTS] + [False], dtype=bool)
_CAT_CONCEPTS = _Groups([[i for i, c in enumerate(CONCEPTS) if c.cat == k] for k in range(4)])
# Visible nouns of each concept (loose products: the title names one of them).
_C_NOUNS = _Groups(
    [[i for i in range(len(_surf_text)) if _surf_concept[i] == ci and not _surf_held[i]] for ci in range(_NC)]
)


def _consecutive(lengths: list[int]) -> _Groups:
    """Groups 0..k-1 of consecutive integers with the given sizes."""
    starts = np.cumsum([0, *lengths]).tolist()
    return _Groups([list(range(starts[i], starts[i + 1])) for i in range(len(lengths))])


_C_TITLES = _consecutive([len(c.titles) for c in CONCEPTS])
_TITLE_NOUN = _text_array([t for c in CONCEPTS for t in c.titles])
_C_DESC = _consecutive([len(c.desc) for c in CONCEPTS])
_TITLE_DESC = _text_array([d for c in CONCEPTS for d in c.desc])
_STYLE_NAMES = _text_array(
    ["Classic", "Essential", "Revolution", "Air", "Ultra", "Everyday", "Heritage", "Signature", "Original", "Pro"]
)  # fmt: skip

# Word orders over the slots (brand, gender, mod, mod2, colour, noun, size, price, suffix).
_ORDERS: list[tuple[int, ...]] = [
    (0, 1, 2, 3, 4, 5, 6, 7, 8),  # sony wireless black headphones under 50
    (1, 4, 2, 3, 0, 5, 6, 7, 8),  # womens red leather ugg boots size 8
    (5, 0, 1, 2, 3, 4, 6, 7, 8),  # headphones sony wireless black
    (0, 5, 1, 4, 2, 3, 6, 7, 8),  # nike running shoes womens red size 8
    (7, 0, 1, 2, 3, 4, 5, 6, 8),  # under 50 sony headphones
    (2, 3, 4, 5, 0, 1, 6, 8, 7),  # wireless black headphones sony under 50
    (4, 5, 1, 2, 3, 6, 0, 7, 8),  # black boots womens leather size 8 ugg
]
_ORDER_P = np.asarray([0.42, 0.12, 0.12, 0.1, 0.08, 0.08, 0.08])


def _surface_weights(include_heldout: bool, include_ambiguous: bool) -> np.ndarray:
    """Probability of each surface: every category gets 1/4 of the mass."""
    w = np.zeros(_SURF_TEXT.shape[0] - 1, dtype=np.float64)
    amb = _SURF_CONCEPT < 0
    amb_mass = np.zeros(4)
    if include_ambiguous:
        w[amb] = P_AMBIGUOUS * _SURF_WITHIN[amb] / _SURF_WITHIN[amb].sum()
        np.add.at(amb_mass, _SURF_CAT[amb], w[amb])
    for k in range(4):
        members = [i for i, c in enumerate(CONCEPTS) if c.cat == k]
        cw = np.asarray([CONCEPTS[i].weight for i in members])
        cw = (0.25 - amb_mass[k]) * cw / cw.sum()
        for ci, mass in zip(members, cw, strict=True):
            sel = _SURF_CONCEPT == ci
            if not include_heldout:
                sel &= ~_SURF_HELD
            w[sel] = mass * _SURF_WITHIN[sel] / _SURF_WITHIN[sel].sum()
    return w / w.sum()


_WEIGHTS = {
    (held, amb): _surface_weights(held, amb) for held in (False, True) for amb in (False, True)
}  # fmt: skip


def _check_vocabulary() -> None:
    """Held-out nouns must not occur as words anywhere a train query or any title could use."""
    held = set(HELDOUT_NOUNS)
    visible: set[str] = set()
    texts = [t for t, h in zip(_surf_text, _surf_held, strict=True) if not h]
    texts += _MOD_WORDS + PRICES + SUFFIXES + _BRAND_NAMES + list(_TITLE_NOUN[:-1]) + list(_TITLE_DESC[:-1])
    texts += (
        list(_BRAND_T[:-1]) + list(_COLOURS.query[:-1]) + list(_SIZES.query[:-1]) + list(_GENDERS.query[:-1])
    )
    for t in texts:
        visible.update(t.lower().replace(",", " ").split())
    clash = held & visible
    if clash:  # pragma: no cover - a vocabulary edit broke the design
        raise AssertionError(f"held-out nouns also used elsewhere: {sorted(clash)}")


_check_vocabulary()


# --------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------

_KEYBOARD_NEIGHBOURS = {
    "a": "sqw", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo",
    "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et",
    "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}  # fmt: skip


def _typo(text: str, r1: int, r2: int, kind: int) -> str:
    """Corrupt one word of four or more letters: drop, swap, double or mistype a letter."""
    words = text.split(" ")
    cand = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not cand:
        return text
    wi = cand[r1 % len(cand)]
    w = words[wi]
    p = 1 + r2 % (len(w) - 2)  # keep the first letter
    if kind == 0:
        w = w[:p] + w[p + 1 :]
    elif kind == 1:
        w = w[:p] + w[p + 1] + w[p] + w[p + 2 :]
    elif kind == 2:
        w = w[:p] + w[p] + w[p:]
    else:
        near = _KEYBOARD_NEIGHBOURS.get(w[p], w[p])
        w = w[:p] + near[r2 % len(near)] + w[p + 1 :]
    words[wi] = w
    return " ".join(words)


class _Queries(NamedTuple):
    text: list[str]
    label: np.ndarray  # category
    surface: np.ndarray
    concept: np.ndarray  # -1 for ambiguous heads
    brand: np.ndarray  # brand index or -1
    colour: np.ndarray  # canonical colour or -1
    size: np.ndarray  # canonical size or -1
    gender: np.ndarray  # canonical gender (within its set) or -1
    gender_local: np.ndarray
    colour_local: np.ndarray
    size_local: np.ndarray


def _queries(rng: np.random.Generator, n: int, weights: np.ndarray) -> _Queries:
    """Draw ``n`` queries; vectorised except for the final string assembly."""
    surf = rng.choice(weights.shape[0], size=n, p=weights)
    concept = _SURF_CONCEPT[surf]
    amb = concept < 0
    ci = np.where(amb, _NC, concept)  # dummy row for ambiguous heads
    cat = _SURF_CAT[surf]

    def coin(p: float) -> np.ndarray:
        return rng.random(n) < p

    brand, _ = _BRANDS.pick(rng, _C_BRAND_GROUP[ci])
    brand = np.where(coin(P_BRAND), brand, -1)

    gset = _C_GENDER_SET[ci]
    gender, gender_local = _GENDERS.kinds.pick(rng, gset)
    gvar, _ = _GENDERS.spellings.pick(rng, np.where(gender >= 0, gender, -1))
    has_g = coin(P_GENDER) & (gender >= 0)
    gender = np.where(has_g, gender, -1)

    # Modifiers: product-specific, else the category's, else shared. Ambiguous heads: shared only.
    u = rng.random(n)
    mod_group = np.where(u < P_MOD_CONCEPT, 5 + ci, cat)
    mod_group = np.where(~_C_HAS_MODS[ci] & (u < P_MOD_CONCEPT), cat, mod_group)
    mod_group = np.where((rng.random(n) < P_MOD_SHARED) | amb, _MOD_SHARED, mod_group)
    mod1, _ = _MODS.pick(rng, mod_group)
    mod1 = np.where(coin(P_MOD) & (~amb | coin(0.75)), mod1, -1)
    mod2, _ = _MODS.pick(rng, np.where(amb, -1, cat))
    mod2 = np.where(coin(P_MOD2) & (mod2 != mod1), mod2, -1)

    colour, colour_local = _COLOURS.kinds.pick(rng, np.zeros(n, dtype=np.int64))
    cvar, _ = _COLOURS.spellings.pick(rng, colour)
    colour = np.where(coin(P_COLOUR) & _SURF_COLOUR_OK[surf], colour, -1)

    size, size_local = _SIZES.kinds.pick(rng, _C_SIZE_KIND[ci])
    svar, _ = _SIZES.spellings.pick(rng, np.where(size >= 0, size, -1))
    size = np.where(coin(P_SIZE) & (size >= 0), size, -1)

    price = np.where(coin(P_PRICE), rng.integers(0, len(PRICES), n), -1)
    suffix = np.where(coin(P_SUFFIX), rng.integers(0, len(SUFFIXES), n), -1)
    order = rng.choice(len(_ORDERS), size=n, p=_ORDER_P / _ORDER_P.sum())
    typo = coin(P_TYPO)
    typo_r = rng.integers(0, 1 << 30, size=(n, 3))
    capital = coin(P_CAPITAL)

    cols = [
        _BRAND_Q[brand].tolist(),
        _GENDERS.query[np.where(gender >= 0, gvar, -1)].tolist(),
        _MOD_Q[mod1].tolist(),
        _MOD_Q[mod2].tolist(),
        _COLOURS.query[np.where(colour >= 0, cvar, -1)].tolist(),
        _SURF_TEXT[surf].tolist(),
        _SIZES.query[np.where(size >= 0, svar, -1)].tolist(),
        _PRICE_Q[price].tolist(),
        _SUFFIX_Q[suffix].tolist(),
    ]
    orders = _ORDERS
    texts: list[str] = []
    append = texts.append
    for o, *slots in zip(order.tolist(), *cols, strict=True):
        words = " ".join([slots[k] for k in orders[o] if slots[k]]).split(" ")
        if len(set(words)) != len(words):  # "wireless wireless speaker" -> "wireless speaker"
            kept: list[str] = []
            for w in words:  # numbers may repeat ("30 x 30")
                if w not in kept or not w.isalpha():
                    kept.append(w)
            words = kept
        append(" ".join(words))
    for i in np.flatnonzero(typo).tolist():
        r = typo_r[i]
        texts[i] = _typo(texts[i], int(r[0]), int(r[1]), int(r[2]) % 4)
    for i in np.flatnonzero(capital).tolist():
        texts[i] = texts[i][:1].upper() + texts[i][1:]
    return _Queries(
        texts, cat, surf, concept, brand, colour, size, gender,
        np.where(gender >= 0, gender_local, -1), np.where(colour >= 0, colour_local, -1),
        np.where(size >= 0, size_local, -1),
    )  # fmt: skip


def _titles(rng: np.random.Generator, q: _Queries) -> tuple[list[str], np.ndarray]:
    """A product title per query, relevant (1) or not (0), about half each."""
    n = len(q.text)
    concept = q.concept  # pair-task queries never use ambiguous heads
    cat = _C_CAT[concept]
    relevant = rng.random(n) < 0.5
    # Negatives: 0 another category, 1 a sibling product of the same category, 2 same product with a
    # conflicting attribute (brand, colour, size, gender; or another noun for a loose product).
    neg = rng.choice(3, size=n, p=[0.3, 0.35, 0.35])

    # Attribute conflicts available for each row.
    cand = np.stack(
        [
            q.brand >= 0,
            q.colour >= 0,
            q.size >= 0,
            (q.gender >= 0) & (_GENDERS.kinds.lengths[_C_GENDER_SET[concept]] > 1),
            _C_LOOSE[concept] & (_C_NOUNS.lengths[concept] > 1),
        ],
        axis=1,
    )
    # Random priority per candidate; the conflict is the highest-priority available one.
    prio = np.where(cand, rng.random((n, cand.shape[1])), -1.0)
    conflict = np.where(cand.any(axis=1), prio.argmax(axis=1), -1)
    neg = np.where((neg == 2) & (conflict < 0), 1, neg)
    conflict = np.where(~relevant & (neg == 2), conflict, -1)

    other_cat = (cat + rng.integers(1, 4, size=n)) % 4
    c_other, _ = _CAT_CONCEPTS.pick(rng, other_cat)
    local_in_cat = concept - _CAT_CONCEPTS.offsets[cat]  # concepts of a category are contiguous
    c_sibling = _CAT_CONCEPTS.pick_other(rng, cat, local_in_cat)
    tconcept = np.where(relevant | (neg == 2), concept, np.where(neg == 0, c_other, c_sibling))
    same = tconcept == concept
    tcat = _C_CAT[tconcept]

    # Brand.
    b_rand, _ = _BRANDS.pick(rng, _C_BRAND_GROUP[tconcept])
    has_b = q.brand >= 0
    b_local = _BRAND_LOCAL[_C_BRAND_GROUP[concept], q.brand]
    b_other = _BRANDS.pick_other(rng, _C_BRAND_GROUP[concept], b_local)
    tbrand = np.where(same & has_b, q.brand, b_rand)
    tbrand = np.where((conflict == 0) & (b_other >= 0), b_other, tbrand)

    # Colour.
    c_rand, _ = _COLOURS.kinds.pick(rng, np.zeros(n, dtype=np.int64))
    c_other = _COLOURS.kinds.pick_other(rng, np.zeros(n, dtype=np.int64), q.colour_local)
    tcolour = np.where(_C_COLOUR[tconcept] & (rng.random(n) < 0.85), c_rand, -1)
    tcolour = np.where(same & (q.colour >= 0), np.where(conflict == 1, c_other, q.colour), tcolour)

    # Size.
    s_rand, _ = _SIZES.kinds.pick(rng, _C_SIZE_KIND[tconcept])
    s_other = _SIZES.kinds.pick_other(rng, _C_SIZE_KIND[concept], q.size_local)
    tsize = np.where(rng.random(n) < 0.85, s_rand, -1)
    tsize = np.where(same & (q.size >= 0), np.where(conflict == 2, s_other, q.size), tsize)

    # Gender (fashion).
    g_rand, _ = _GENDERS.kinds.pick(rng, _C_GENDER_SET[tconcept])
    g_other = _GENDERS.kinds.pick_other(rng, _C_GENDER_SET[concept], q.gender_local)
    tgender = np.where(same & (q.gender >= 0), np.where(conflict == 3, g_other, q.gender), g_rand)

    # Noun: tight products use their title nouns; loose ones name a noun (the query's when relevant).
    tn_rand, _ = _C_TITLES.pick(rng, tconcept)
    loose_rand, _ = _C_NOUNS.pick(rng, tconcept)
    surf_local = np.full(n, -1, dtype=np.int64)
    loose_q = _C_LOOSE[concept]
    surf_local[loose_q] = q.surface[loose_q] - _C_NOUNS.items[_C_NOUNS.offsets[concept[loose_q]]]
    loose_other = _C_NOUNS.pick_other(rng, concept, surf_local)
    loose_noun = np.where(same & loose_q, q.surface, loose_rand)
    loose_noun = np.where(conflict == 4, loose_other, loose_noun)
    noun_text = np.where(_C_LOOSE[tconcept], _SURF_TITLE[loose_noun], _TITLE_NOUN[tn_rand])
    desc, _ = _C_DESC.pick(rng, tconcept)
    desc = np.where(rng.random(n) < 0.85, desc, -1)

    model_l = rng.integers(0, 26, size=(n, 2))
    model_d = rng.integers(100, 9999, size=n)
    model_s = rng.integers(0, 30, size=n)  # suffix letter when < 26
    style = rng.integers(0, _STYLE_NAMES.shape[0] - 1, size=n)
    has_model = rng.random(n) < 0.8

    cols = zip(
        tcat.tolist(),
        _BRAND_T[tbrand].tolist(),
        has_model.tolist(),
        model_l.tolist(),
        model_d.tolist(),
        model_s.tolist(),
        _STYLE_NAMES[style].tolist(),
        _GENDERS.title[tgender].tolist(),
        _TITLE_DESC[desc].tolist(),
        noun_text.tolist(),
        _COLOURS.title[tcolour].tolist(),
        _SIZES.title[tsize].tolist(),
        strict=True,
    )
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    titles: list[str] = []
    for k, brand, hm, ml, md, ms, sty, gen, des, noun, col, siz in cols:
        if k == E or k == H:
            model = f"{letters[ml[0]]}{letters[ml[1]]}-{md}{letters[ms] if ms < 26 else ''}" if hm else ""
            head = [brand, model, des, noun] if k == E else [brand, des, noun]
            tail = [col, siz] if k == E else [siz, col]
        elif k == F:
            head = [brand, gen, sty if hm else "", des, noun]
            tail = [col, siz]
        else:
            head = [brand, des, noun]
            tail = [siz]
        if des[:1].islower():  # "Webcam with Microphone", "Albacore Tuna in Water"
            head = [h for h in head if h != des] + [des]
        titles.append(", ".join([" ".join([h for h in head if h])] + [t for t in tail if t]))
    return titles, relevant.astype(np.int64)


def _stream(seed: int, split: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _SPLIT_CODE[split]])))


def _noisy(rng: np.random.Generator, label: np.ndarray, k: int, noise: float) -> np.ndarray:
    flip = rng.random(label.shape[0]) < noise
    shift = rng.integers(1, k, size=label.shape[0])
    return np.where(flip, (label + shift) % k, label).astype(np.int64)


def _ids(split: str, n: int) -> pa.Array:
    width = max(7, len(str(n)))
    prefix = _ID_PREFIX[split]
    return pa.array([f"{prefix}-{i:0{width}d}" for i in range(n)], type=pa.string())


def _schema(task: str, fields: list[pa.Field]) -> pa.Schema:
    meta = {
        b"label_names": json.dumps(label_names(task)).encode(),
        b"task": task.encode(),
        b"generator": b"bert2dnn_ray.synthetic",
    }
    return pa.schema(fields, metadata=meta)


def _split_table(cfg: SyntheticConfig, split: str, n: int) -> pa.Table:
    rng = _stream(cfg.seed, split)
    labeled = split != "unlabeled"
    pair = cfg.task == "query_title"
    weights = _WEIGHTS[(split in _HELDOUT_SPLITS, not pair)]
    k = len(label_names(cfg.task))

    def make(m: int) -> tuple[list[str], list[str] | None, np.ndarray]:
        q = _queries(rng, m, weights)
        if not pair:
            return q.text, None, q.label
        titles, rel = _titles(rng, q)
        return q.text, titles, rel

    if labeled:
        text, titles, label = make(n)
    else:
        # Query-log structure: a pool of popular rows, repeated with Zipf weights.
        text, titles, _ = make(n)
        if n:
            # Popular queries are mostly short ("tv", "running shoes"): rank candidates by length.
            pool_n = max(10, int(n * POPULAR_POOL_FRACTION))
            cand_text, cand_titles, _ = make(2 * pool_n)
            keep = sorted(range(2 * pool_n), key=lambda i: len(cand_text[i].split(" ")))[:pool_n]
            pool_text = [cand_text[i] for i in keep]
            pool_titles = [cand_titles[i] for i in keep] if cand_titles is not None else None
            zipf = np.arange(1, pool_n + 1, dtype=np.float64) ** -ZIPF_EXPONENT
            repeat = np.flatnonzero(rng.random(n) < REPEAT_RATE)
            which = rng.choice(pool_n, size=repeat.shape[0], p=zipf / zipf.sum())
            for i, j in zip(repeat.tolist(), which.tolist(), strict=True):
                text[i] = pool_text[j]
                if titles is not None and pool_titles is not None:
                    titles[i] = pool_titles[j]

    cols: dict[str, pa.Array] = {"id": _ids(split, n)}
    fields = [pa.field("id", pa.string(), nullable=False)]
    if pair:
        cols["query"] = pa.array(text, type=pa.string())
        cols["title"] = pa.array(titles, type=pa.string())
        fields += [
            pa.field("query", pa.string(), nullable=False),
            pa.field("title", pa.string(), nullable=False),
        ]
    else:
        cols["text"] = pa.array(text, type=pa.string())
        fields.append(pa.field("text", pa.string(), nullable=False))
    if labeled:
        cols["label"] = pa.array(_noisy(rng, label, k, cfg.label_noise), type=pa.int64())
        fields.append(pa.field("label", pa.int64(), nullable=False))
    schema = _schema(cfg.task, fields)
    return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)


def generate(cfg: SyntheticConfig | dict[str, Any] | None = None) -> dict[str, pa.Table]:
    """Make the four splits: ``train``, ``dev``, ``test`` (labeled) and ``unlabeled``.

    Deterministic: the same config gives byte-identical tables. Each split has its own random
    stream, so e.g. ``num_unlabeled`` does not change the labeled splits.
    """
    cfg = _as_config(cfg)
    sizes = {
        "train": cfg.num_labeled,
        "dev": cfg.num_dev,
        "test": cfg.num_test,
        "unlabeled": cfg.num_unlabeled,
    }
    return {split: _split_table(cfg, split, sizes[split]) for split in SPLITS}


def write(cfg: SyntheticConfig | dict[str, Any] | None, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Generate and write ``{train,dev,test,unlabeled}.parquet`` (zstd) into ``out_dir``."""
    cfg = _as_config(cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for split, table in generate(cfg).items():
        path = out / f"{split}.parquet"
        io.write_parquet_atomic(table, str(path))  # readers never see a half-written file
        paths[split] = path
    return paths


def _as_config(cfg: SyntheticConfig | dict[str, Any] | None) -> SyntheticConfig:
    if cfg is None:
        return SyntheticConfig()
    if isinstance(cfg, SyntheticConfig):
        return cfg
    return SyntheticConfig.model_validate(cfg)
