"""The vocabulary of the synthetic e-commerce data: data only (and the two helpers that spell it).

Categories, slot probabilities, colours, genders, sizes, brands by group, modifiers, price phrases,
suffixes, the product concepts (query nouns, held-out synonyms, title nouns and descriptors) and the
ambiguous heads. :mod:`.compiled` turns it into numpy lookup tables and :mod:`.generator` draws from
those; any edit here changes the generated data.
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
