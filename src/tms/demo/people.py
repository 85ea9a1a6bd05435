"""Synthetic Kenyan applicants: names from many communities, mobile numbers, ID numbers.

Nothing here is a real person. Names are drawn per community, and a centre's
applicants come mostly from the communities of its region, as they would.
"""

from __future__ import annotations

from bisect import bisect
from dataclasses import dataclass
from random import Random

from tms.demo.draws import pick, whole


@dataclass(frozen=True)
class Community:
    name: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]
    # Share of people who also carry an English (Christian) or Arabic given name.
    english_given: float = 0.5
    arabic_given: float = 0.0


_ENGLISH_FEMALE = (
    "Mary", "Grace", "Faith", "Esther", "Mercy", "Jane", "Lucy", "Ann", "Caroline", "Purity",
    "Naomi", "Joyce", "Beatrice", "Elizabeth", "Sharon", "Winnie", "Diana", "Irene", "Agnes",
    "Eunice", "Ruth", "Rose", "Veronica", "Margaret", "Janet", "Cynthia", "Brenda", "Stacy",
)  # fmt: skip
_ENGLISH_MALE = (
    "John", "Peter", "Joseph", "James", "David", "Daniel", "Samuel", "Brian", "Kevin", "Dennis",
    "Stephen", "Paul", "Francis", "Geoffrey", "Collins", "Victor", "Isaac", "Moses", "Patrick",
    "George", "Michael", "Evans", "Felix", "Kennedy", "Emmanuel", "Charles", "Wilson", "Simon",
)  # fmt: skip
_ARABIC_FEMALE = (
    "Fatuma", "Amina", "Halima", "Zainab", "Mwanaisha", "Khadija", "Asha", "Saida",
    "Rehema", "Mariam", "Hawa", "Sofia",
)  # fmt: skip
_ARABIC_MALE = (
    "Mohamed", "Abdi", "Hassan", "Ahmed", "Omar", "Ali", "Ibrahim", "Yusuf", "Abdullahi",
    "Salim", "Rashid", "Hussein", "Bakari", "Juma",
)  # fmt: skip

COMMUNITIES: dict[str, Community] = {
    c.name: c
    for c in [
        Community(
            "kikuyu",
            ("Wanjiku", "Njeri", "Wambui", "Wairimu", "Nyambura", "Wanjiru", "Muthoni", "Njoki",
             "Wangari", "Nduta", "Waithera", "Wangui"),
            ("Kamau", "Mwangi", "Njoroge", "Kariuki", "Githinji", "Macharia", "Kimani", "Ndungu",
             "Gitau", "Waweru", "Maina", "Karanja"),
            ("Kamau", "Mwangi", "Njoroge", "Kariuki", "Githinji", "Macharia", "Kimani",
             "Ndung'u", "Gitau", "Waweru", "Maina", "Karanja", "Wainaina", "Muriuki", "Kinyua",
             "Njuguna", "Mbugua", "Ngugi"),
            english_given=0.7,
        ),
        Community(
            "luo",
            ("Achieng", "Atieno", "Akinyi", "Adhiambo", "Awino", "Anyango", "Auma", "Akoth",
             "Apiyo", "Awuor"),
            ("Otieno", "Odhiambo", "Ochieng", "Omondi", "Onyango", "Owino", "Ouma", "Okoth",
             "Oduor", "Oketch"),
            ("Odhiambo", "Otieno", "Ochieng", "Omondi", "Onyango", "Owino", "Ouma", "Okoth",
             "Oduor", "Okello", "Opiyo", "Were", "Ogola", "Obiero", "Oloo", "Nyong'o"),
            english_given=0.7,
        ),
        Community(
            "kalenjin",
            ("Chebet", "Jepkoech", "Chepkemoi", "Jeruto", "Cherono", "Jepchirchir", "Chelangat",
             "Jelagat", "Chepngetich", "Jebet"),
            ("Kiprotich", "Kipchoge", "Kibet", "Kiprono", "Kipkemboi", "Kiplagat", "Cheruiyot",
             "Kipruto", "Kiptoo", "Kimutai"),
            ("Rotich", "Kirui", "Koech", "Langat", "Cheruiyot", "Kiprop", "Too", "Ruto",
             "Sang", "Bett", "Kosgei", "Kemboi", "Tanui", "Keter"),
            english_given=0.65,
        ),
        Community(
            "kamba",
            ("Mwikali", "Ndinda", "Mueni", "Mwende", "Nduku", "Kanini", "Syokau", "Mumbua"),
            ("Mutua", "Musyoka", "Kioko", "Muthoka", "Mutinda", "Kyalo", "Munyao", "Mulwa"),
            ("Mutua", "Musyoka", "Kyalo", "Mwendwa", "Kioko", "Mutiso", "Nzioka", "Wambua",
             "Kilonzo", "Mbithi", "Muema", "Ndambuki"),
            english_given=0.7,
        ),
        Community(
            "luhya",
            ("Nafula", "Nekesa", "Naliaka", "Nasimiyu", "Khavere", "Nanjala", "Nabwire",
             "Namalwa", "Imali"),
            ("Wanjala", "Wafula", "Barasa", "Wekesa", "Simiyu", "Masinde", "Wanyama", "Juma",
             "Shikuku", "Makokha"),
            ("Wekesa", "Simiyu", "Masinde", "Wanyama", "Wafula", "Barasa", "Wanjala", "Khaemba",
             "Shitanda", "Mukhwana", "Nyongesa", "Opati", "Wamalwa", "Lusweti"),
            english_given=0.7,
        ),
        Community(
            "kisii",
            ("Nyaboke", "Kerubo", "Moraa", "Bonareri", "Kemunto", "Nyanchama", "Kwamboka"),
            ("Ondieki", "Nyakundi", "Mogaka", "Onchwari", "Momanyi", "Omwenga", "Nyamweya"),
            ("Ondieki", "Nyakundi", "Mogaka", "Onchwari", "Momanyi", "Omwenga", "Nyamweya",
             "Matara", "Ombati", "Obiri", "Osoro"),
            english_given=0.75,
        ),
        Community(
            "meru",
            ("Kawira", "Nkatha", "Gatwiri", "Karimi", "Makena", "Mwendwa", "Kinya", "Kagendo"),
            ("Kinoti", "Mwiti", "Murithi", "Mutuma", "Kirimi", "Gitonga", "Mugambi", "Muriungi"),
            ("Kinoti", "Mwiti", "Murithi", "Mutuma", "Kirimi", "Gitonga", "Mugambi", "Muriungi",
             "Kaberia", "Koome", "Mwirigi", "Ntongai"),
            english_given=0.7,
        ),
        Community(
            "somali",
            ("Fatuma", "Amina", "Halima", "Sahra", "Hodan", "Fartun", "Ubah", "Deka", "Maryan"),
            ("Mohamed", "Abdi", "Hassan", "Ahmed", "Abdirahman", "Ibrahim", "Yussuf", "Omar",
             "Abdullahi", "Aden"),
            ("Abdi", "Hussein", "Farah", "Ali", "Omar", "Mohamed", "Hassan", "Aden", "Osman",
             "Ibrahim", "Gedi", "Warsame", "Noor"),
            english_given=0.0,
        ),
        Community(
            "coastal",
            ("Kadzo", "Dama", "Sidi", "Mwanajuma", "Kache", "Mapenzi", "Zawadi", "Riziki"),
            ("Kahindi", "Katana", "Charo", "Baya", "Kazungu", "Karisa", "Kenga", "Mwarandu"),
            ("Kahindi", "Katana", "Charo", "Baya", "Kazungu", "Karisa", "Kenga", "Mwarandu",
             "Mwinyi", "Bakari", "Salim", "Juma", "Said", "Mramba"),
            english_given=0.35,
            arabic_given=0.35,
        ),
        Community(
            "maasai",
            ("Naserian", "Nashipai", "Resian", "Sintamei", "Naisula", "Nalangu"),
            ("Lemayian", "Ole Sankale", "Saitoti", "Parsimei", "Kilusu", "Lekishon"),
            ("Ole Ntimama", "Lekishon", "Sankale", "Kamuaro", "Koikai", "Parsimei", "Tumpes",
             "Nkaissery", "Ole Nchoe"),
            english_given=0.6,
        ),
        Community(
            "turkana",
            ("Akai", "Nakiru", "Ekaale", "Akiru", "Namoe", "Achuka"),
            ("Ekal", "Lokwang", "Ekiru", "Lotukoi", "Ewoton", "Nakwa"),
            ("Ekal", "Lokwang", "Ekiru", "Lotukoi", "Ewoton", "Lokol", "Nakwa", "Ebenyo",
             "Lomuria"),
            english_given=0.6,
        ),
    ]
}  # fmt: skip

COMMUNITY_NAMES: tuple[str, ...] = tuple(COMMUNITIES)

# Everyone lives everywhere; a region adds weight to its own communities.
_NATIONAL_MIX: dict[str, float] = {
    "kikuyu": 17, "luhya": 14, "kalenjin": 13, "luo": 11, "kamba": 10, "somali": 6,
    "kisii": 6, "meru": 6, "coastal": 5, "maasai": 2, "turkana": 2,
}  # fmt: skip

_REGION_OF_COUNTY: dict[str, str] = {}
for _community, _counties in {
    "kikuyu": ["Kiambu", "Nyeri", "Murang'a", "Kirinyaga", "Nyandarua", "Laikipia"],
    "luo": ["Kisumu", "Siaya", "Homa Bay", "Migori"],
    "kalenjin": ["Uasin Gishu", "Nandi", "Kericho", "Bomet", "Baringo", "Elgeyo-Marakwet",
                 "West Pokot"],
    "kamba": ["Machakos", "Kitui", "Makueni"],
    "luhya": ["Kakamega", "Vihiga", "Bungoma", "Busia", "Trans Nzoia"],
    "kisii": ["Kisii", "Nyamira"],
    "meru": ["Meru", "Tharaka-Nithi", "Embu", "Isiolo"],
    "somali": ["Garissa", "Wajir", "Mandera", "Marsabit"],
    "coastal": ["Mombasa", "Kilifi", "Kwale", "Lamu", "Tana River", "Taita-Taveta"],
    "maasai": ["Narok", "Kajiado", "Samburu"],
    "turkana": ["Turkana"],
}.items():  # fmt: skip
    for _county in _counties:
        _REGION_OF_COUNTY[_county] = _community


def community_weights(county: str) -> tuple[float, ...]:
    """Cumulative weights over COMMUNITY_NAMES for applicants at a centre in ``county``.

    Cities (Nairobi, Nakuru) draw from the whole country; elsewhere the region's own
    community makes up about two thirds.
    """
    weights = dict(_NATIONAL_MIX)
    home = _REGION_OF_COUNTY.get(county)
    if home is not None:
        weights[home] += 2 * sum(_NATIONAL_MIX.values())
    total = 0.0
    cumulative = []
    for name in COMMUNITY_NAMES:
        total += weights[name]
        cumulative.append(total)
    return tuple(cumulative)


def draw_community(rng: Random, cumulative: tuple[float, ...]) -> Community:
    """A community drawn with ``community_weights`` of some county."""
    return COMMUNITIES[COMMUNITY_NAMES[bisect(cumulative, rng.random() * cumulative[-1])]]


def full_name(rng: Random, community: Community) -> str:
    """``Grace Wanjiku Kamau``, ``Kiprotich Rotich``, ``Amina Abdi Hassan``..."""
    female = rng.random() < 0.5
    own = community.female if female else community.male
    roll = rng.random()
    if roll < community.arabic_given:
        given = pick(rng, _ARABIC_FEMALE if female else _ARABIC_MALE)
        middle = pick(rng, own)
    elif roll < community.arabic_given + community.english_given:
        given = pick(rng, _ENGLISH_FEMALE if female else _ENGLISH_MALE)
        middle = pick(rng, own)
    else:
        given = pick(rng, own)
        # Somali names: given, father's, grandfather's; a middle name is common elsewhere too.
        middle = pick(rng, community.male) if community.name == "somali" else ""
    surname = pick(rng, community.surnames)
    if surname in (middle, given):
        middle = ""
    if middle and rng.random() < 0.35 and community.name != "somali":
        middle = ""
    return f"{given} {middle} {surname}" if middle else f"{given} {surname}"


# Mobile prefixes after +254, with the operators' rough market shares
# (Safaricom about two thirds, then Airtel and Telkom).
_MOBILE_PREFIXES: tuple[tuple[str, float], ...] = (
    *((str(p), 3.0) for p in range(700, 730)),
    *((str(p), 2.0) for p in (740, 741, 742, 743, 745, 746, 748, 757, 758, 759, 768, 769)),
    *((str(p), 2.0) for p in range(790, 800)),
    *((str(p), 2.0) for p in range(110, 116)),
    *((str(p), 1.5) for p in range(730, 740)),
    *((str(p), 1.5) for p in (750, 751, 752, 753, 754, 755, 756, 762)),
    *((str(p), 1.5) for p in range(780, 790)),
    *((str(p), 1.0) for p in (100, 101, 102)),
    *((str(p), 1.0) for p in range(770, 780)),
)
MOBILE_PREFIXES: tuple[str, ...] = tuple(p for p, _ in _MOBILE_PREFIXES)
MOBILE_PREFIX_WEIGHTS: tuple[float, ...] = tuple(w for _, w in _MOBILE_PREFIXES)


def mobile_numbers(rng: Random, count: int) -> list[str]:
    """``count`` Kenyan mobile numbers in E.164 (``+2547xxxxxxxx``, ``+2541xxxxxxxx``)."""
    prefixes = rng.choices(MOBILE_PREFIXES, weights=MOBILE_PREFIX_WEIGHTS, k=count)
    return [f"+254{prefix}{whole(rng, 0, 1_000_000):06d}" for prefix in prefixes]


def id_number(rng: Random) -> str:
    """An eight-digit national ID number, in the range issued over the last decades."""
    return str(whole(rng, 20_000_000, 40_000_000))
