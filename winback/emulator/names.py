"""Who shops in the seeded world and what it sells: names, places, streets, product vocabulary.

Mostly plain data, plus :func:`draw_person`, which turns it into one plausible buyer;
:mod:`winback.emulator.generate` decides everything else. Names deliberately
include accents, apostrophes, hyphens and non-Latin scripts, because real stores have them and
every layer (sync, templates, SMTP headers) must carry them intact. Non-Latin names come with a
romanized form used to build ASCII email addresses.
"""

from __future__ import annotations

import random
import re
import unicodedata
from bisect import bisect_right
from itertools import accumulate
from typing import NamedTuple

from winback.emulator.world import WAddress

Name = tuple[str, str | None]
"""A name as written, and its romanized form when it is not in Latin script (else ``None``)."""


class Origin(NamedTuple):
    key: str
    weight: float
    first_names: tuple[Name, ...]
    last_names: tuple[Name, ...]
    countries: tuple[tuple[str, float], ...]
    """Where customers with such names live, as (country code, weight)."""


def _latin(*names: str) -> tuple[Name, ...]:
    return tuple((name, None) for name in names)


_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "Ae",
                       "đ": "d", "Đ": "D", "œ": "oe", "Œ": "Oe", "ı": "i"})


def ascii_fold(text: str) -> str:
    """``Łukasz Søren-Müller`` → ``Lukasz Soren-Muller``: drop diacritics, keep letters."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


ORIGINS: tuple[Origin, ...] = (
    Origin(
        "en", 0.52,
        _latin("James", "Mary", "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Chloe", "Lucas",
               "Grace", "Henry", "Ella", "Jack", "Harper", "Owen", "Zoë", "Chloë", "Mary-Kate",
               "Anne-Marie", "Sarah", "Daniel", "Hannah", "Michael", "Emily", "Benjamin", "Ruby",
               "Samuel", "Isla", "Thomas", "Amelia", "Oliver", "Charlotte", "William", "Lily",
               "Alexander", "Sophie", "Matthew", "Abigail", "Ryan", "Megan", "Nathan", "Jessica"),
        _latin("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
               "Taylor", "Anderson", "Thomas", "Moore", "Martin", "Thompson", "White", "Harris",
               "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green",
               "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
               "Smith-Jones", "Hughes-Parry", "Fitzgerald", "McAllister", "MacLeod", "Evans"),
        (("US", 0.62), ("CA", 0.12), ("GB", 0.16), ("AU", 0.10)),
    ),
    Origin(
        "ga", 0.05,
        _latin("Seán", "Siobhán", "Aoife", "Niamh", "Ciarán", "Pádraig", "Róisín", "Gianluca",
               "Giulia", "Marco", "Francesca"),
        _latin("O'Brien", "O'Connor", "O'Sullivan", "O'Neill", "D'Angelo", "D'Souza", "D'Amico",
               "Ní Bhriain", "Mac Giolla", "Rossi", "Esposito"),
        (("US", 0.45), ("GB", 0.35), ("CA", 0.1), ("AU", 0.1)),
    ),
    Origin(
        "es", 0.07,
        _latin("José", "María", "Sofía", "Ángel", "Lucía", "Andrés", "Jesús", "Inés", "Raúl",
               "Martín", "Valentina", "Joaquín", "Camila"),
        _latin("García", "Núñez", "Pérez", "Rodríguez", "Martínez", "Gómez", "Hernández",
               "Sánchez", "Díaz", "Muñoz", "Ibáñez", "García-Lorca", "Peña"),
        (("US", 0.7), ("CA", 0.1), ("GB", 0.1), ("FR", 0.1)),
    ),
    Origin(
        "fr", 0.07,
        _latin("Françoise", "Hélène", "Jérôme", "Anaïs", "Jean-Luc", "Marie-Claire", "Léa",
               "Benoît", "Chloé", "Gaël", "Noémie", "Étienne", "Agathe", "Timothée"),
        _latin("Lefèvre", "Dubois", "Bézier", "Moreau", "Laurent", "Girard", "Rousseau",
               "Mercier", "Faure", "Chevalier", "Lemaître", "Saint-Éxupéry", "Bonnaire"),
        (("FR", 0.7), ("CA", 0.2), ("US", 0.1)),
    ),
    Origin(
        "de", 0.06,
        _latin("Søren", "Jürgen", "Björn", "Åsa", "Jörg", "Anja", "Lena", "Maximilian", "Käthe",
               "Sören", "Malte", "Ingrid", "Mikkel", "Freja"),
        _latin("Müller", "Jørgensen", "Schröder", "Weiß", "Schäfer", "Köhler", "Groß", "Hoffmann",
               "Bäcker", "Østergaard", "Lindqvist", "Strauß", "Meyer-Ebert"),
        (("DE", 0.7), ("NL", 0.1), ("US", 0.1), ("GB", 0.1)),
    ),
    Origin(
        "pl", 0.03,
        _latin("Łukasz", "Małgorzata", "Wojciech", "Zuzanna", "Paweł", "Agnieszka", "Jiří",
               "Kateřina", "Michał"),
        _latin("Wiśniewski", "Dvořák", "Kowalczyk", "Wójcik", "Nowak", "Lewandowska", "Zieliński",
               "Novák", "Szymańska"),
        (("DE", 0.4), ("GB", 0.3), ("US", 0.2), ("NL", 0.1)),
    ),
    Origin(
        "ru", 0.025,
        (("Иван", "ivan"), ("Анна", "anna"), ("Дмитрий", "dmitry"), ("Ольга", "olga"),
         ("Сергей", "sergey"), ("Наталья", "natalya"), ("Алексей", "alexey"),
         ("Екатерина", "ekaterina")),
        (("Петров", "petrov"), ("Иванова", "ivanova"), ("Смирнов", "smirnov"),
         ("Кузнецова", "kuznetsova"), ("Попов", "popov"), ("Соколова", "sokolova"),
         ("Лебедев", "lebedev")),
        (("DE", 0.4), ("US", 0.3), ("GB", 0.2), ("CA", 0.1)),
    ),
    Origin(
        "el", 0.015,
        (("Γιώργος", "giorgos"), ("Μαρία", "maria"), ("Δημήτρης", "dimitris"),
         ("Ελένη", "eleni"), ("Νίκος", "nikos"), ("Κατερίνα", "katerina")),
        (("Παπαδόπουλος", "papadopoulos"), ("Οικονόμου", "oikonomou"),
         ("Γεωργίου", "georgiou"), ("Νικολάου", "nikolaou"), ("Παππάς", "pappas")),
        (("DE", 0.3), ("US", 0.3), ("GB", 0.3), ("AU", 0.1)),
    ),
    Origin(
        "zh", 0.02,
        (("伟", "wei"), ("芳", "fang"), ("静", "jing"), ("磊", "lei"), ("秀英", "xiuying"),
         ("建华", "jianhua"), ("丽", "li"), ("晓明", "xiaoming")),
        (("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
         ("杨", "yang"), ("黄", "huang"), ("周", "zhou")),
        (("US", 0.4), ("CA", 0.3), ("GB", 0.15), ("AU", 0.15)),
    ),
    Origin(
        "ja", 0.02,
        (("花子", "hanako"), ("翔太", "shota"), ("結衣", "yui"), ("健一", "kenichi"),
         ("さくら", "sakura"), ("大輔", "daisuke"), ("美咲", "misaki"), ("拓也", "takuya")),
        (("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
         ("渡辺", "watanabe"), ("伊藤", "ito"), ("山本", "yamamoto"), ("中村", "nakamura")),
        (("JP", 0.75), ("US", 0.15), ("CA", 0.1)),
    ),
    Origin(
        "ar", 0.01,
        (("محمد", "mohammed"), ("فاطمة", "fatima"), ("أحمد", "ahmed"), ("ليلى", "layla"),
         ("يوسف", "youssef"), ("مريم", "maryam")),
        (("العلي", "alali"), ("حداد", "haddad"), ("منصور", "mansour"), ("خوري", "khoury"),
         ("الحسن", "alhassan")),
        (("FR", 0.4), ("GB", 0.3), ("US", 0.2), ("CA", 0.1)),
    ),
    Origin(
        "hi", 0.01,
        (("राज", "raj"), ("प्रिया", "priya"), ("अर्जुन", "arjun"), ("अनन्या", "ananya"),
         ("विक्रम", "vikram"), ("दीपिका", "deepika")),
        (("शर्मा", "sharma"), ("पटेल", "patel"), ("सिंह", "singh"), ("गुप्ता", "gupta"),
         ("वर्मा", "verma")),
        (("GB", 0.4), ("US", 0.35), ("CA", 0.25)),
    ),
)

EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.42), ("yahoo.com", 0.09), ("outlook.com", 0.09), ("hotmail.com", 0.07),
    ("icloud.com", 0.09), ("proton.me", 0.03), ("aol.com", 0.02), ("web.de", 0.03),
    ("orange.fr", 0.03), ("yahoo.co.jp", 0.02), ("example.org", 0.05), ("mail.example.net", 0.06),
)
EMAIL_TAGS = ("shop", "orders", "promo", "maple", "deals")


class City(NamedTuple):
    city: str
    province: str | None
    province_code: str | None
    zip_pattern: str
    """``#`` is a digit, ``@`` an upper-case letter."""


class Country(NamedTuple):
    code: str
    name: str
    phone_prefix: str
    phone_digits: int
    """Digits after the prefix in E.164."""
    streets: tuple[str, ...]
    cities: tuple[City, ...]
    number_first: bool
    """``12 Oak Street`` (True) or ``Hauptstraße 12`` (False)."""


COUNTRIES: dict[str, Country] = {
    "US": Country(
        "US", "United States", "+1", 10,
        ("Maple Street", "Oak Avenue", "Pine Road", "Cedar Lane", "Elm Street", "Main Street",
         "Washington Avenue", "Lakeview Drive", "Sunset Boulevard", "Park Place"),
        (City("New York", "New York", "NY", "100##"), City("Los Angeles", "California", "CA", "900##"),
         City("Chicago", "Illinois", "IL", "606##"), City("Austin", "Texas", "TX", "787##"),
         City("Seattle", "Washington", "WA", "981##"), City("Portland", "Oregon", "OR", "972##"),
         City("Denver", "Colorado", "CO", "802##"), City("Boston", "Massachusetts", "MA", "021##"),
         City("Atlanta", "Georgia", "GA", "303##"), City("Minneapolis", "Minnesota", "MN", "554##")),
        True,
    ),
    "CA": Country(
        "CA", "Canada", "+1", 10,
        ("King Street West", "Rue Sainte-Catherine", "Granville Street", "Queen Street East",
         "Jasper Avenue", "Rue Saint-Denis", "Spring Garden Road"),
        (City("Toronto", "Ontario", "ON", "M5V #@#"), City("Montréal", "Quebec", "QC", "H2X #@#"),
         City("Vancouver", "British Columbia", "BC", "V6B #@#"),
         City("Calgary", "Alberta", "AB", "T2P #@#"), City("Halifax", "Nova Scotia", "NS", "B3H #@#")),
        True,
    ),
    "GB": Country(
        "GB", "United Kingdom", "+44", 10,
        ("High Street", "Church Lane", "Victoria Road", "Station Road", "Mill Lane", "Queen's Road",
         "St John's Wood Road"),
        (City("London", "England", "ENG", "E1 #@@"), City("Manchester", "England", "ENG", "M1 #@@"),
         City("Edinburgh", "Scotland", "SCT", "EH1 #@@"), City("Bristol", "England", "ENG", "BS1 #@@"),
         City("Leeds", "England", "ENG", "LS1 #@@"), City("Cardiff", "Wales", "WLS", "CF10 #@@")),
        True,
    ),
    "DE": Country(
        "DE", "Germany", "+49", 11,
        ("Hauptstraße", "Schillerstraße", "Gartenweg", "Bahnhofstraße", "Lindenallee",
         "Goethestraße", "Friedrichstraße"),
        (City("Berlin", None, None, "10###"), City("München", None, None, "80###"),
         City("Hamburg", None, None, "20###"), City("Köln", None, None, "50###"),
         City("Leipzig", None, None, "04###"), City("Düsseldorf", None, None, "40###")),
        False,
    ),
    "FR": Country(
        "FR", "France", "+33", 9,
        ("Rue de la République", "Rue Oberkampf", "Avenue des Champs-Élysées", "Rue Victor Hugo",
         "Boulevard Saint-Germain", "Rue de l'Église", "Quai des Célestins"),
        (City("Paris", None, None, "750##"), City("Lyon", None, None, "6900#"),
         City("Marseille", None, None, "130##"), City("Toulouse", None, None, "31###"),
         City("Nantes", None, None, "44###"), City("Bordeaux", None, None, "33###")),
        True,
    ),
    "JP": Country(
        "JP", "Japan", "+81", 10,
        ("Jingumae", "Shibuya", "Umeda", "Tenjin", "Sakae", "Kita-Shinjuku"),
        (City("Shibuya-ku", "Tokyo", "JP-13", "150-####"), City("Osaka", "Osaka", "JP-27", "530-####"),
         City("Kyoto", "Kyoto", "JP-26", "600-####"), City("Sapporo", "Hokkaidō", "JP-01", "060-####"),
         City("Fukuoka", "Fukuoka", "JP-40", "810-####")),
        True,
    ),
    "AU": Country(
        "AU", "Australia", "+61", 9,
        ("George Street", "Collins Street", "Queen Street", "Hay Street", "Beach Road"),
        (City("Sydney", "New South Wales", "NSW", "2###"), City("Melbourne", "Victoria", "VIC", "3###"),
         City("Brisbane", "Queensland", "QLD", "4###"), City("Perth", "Western Australia", "WA", "6###")),
        True,
    ),
    "NL": Country(
        "NL", "Netherlands", "+31", 9,
        ("Prinsengracht", "Keizersgracht", "Dorpsstraat", "Kerkstraat", "Oudegracht"),
        (City("Amsterdam", "North Holland", "NH", "10## @@"), City("Rotterdam", "South Holland", "ZH", "30## @@"),
         City("Utrecht", "Utrecht", "UT", "35## @@")),
        False,
    ),
}

MOBILE_LEADS: dict[str, str] = {"GB": "7", "DE": "15", "FR": "6", "JP": "90", "AU": "4", "NL": "6"}
"""First digits of a mobile number after the country prefix; North America draws an area code."""

COMPANIES = ("Northwind Traders", "Acme Interiors", "Bluebird Café", "Studio Ølstykke",
             "Atelier Lumière", "Hill & Dale Ltd", "O'Malley's Pub")

CUSTOMER_TAGS = ("newsletter", "instagram", "gift-buyer", "pop-up-2025", "referral", "wholesale")

ADJECTIVES = ("Classic", "Everyday", "Cozy", "Heritage", "Coastal", "Alpine", "Woven", "Hand-Dyed",
              "Organic", "Vintage", "Minimal", "Rustic", "Nordic", "Soft", "Chunky", "Striped",
              "Speckled", "Waffle-Knit", "Relaxed", "Harbour", "Meadow", "Fireside", "Studio",
              "Weekend", "Garden", "Cabin", "Field", "Highland")

CATEGORIES: tuple[tuple[str, str, tuple[str, ...], float, float], ...] = (
    # (category word, SKU code, materials, lowest price, highest price)
    ("T-Shirt", "TEE", ("Cotton", "Linen", "Hemp", "Slub"), 18, 48),
    ("Sweater", "SWT", ("Merino", "Wool", "Cashmere", "Alpaca", "Cotton"), 60, 220),
    ("Cardigan", "CRD", ("Merino", "Wool", "Alpaca", "Mohair"), 70, 240),
    ("Scarf", "SCF", ("Wool", "Cashmere", "Linen", "Silk"), 25, 140),
    ("Beanie", "BNE", ("Merino", "Wool", "Cotton", "Alpaca"), 16, 45),
    ("Socks", "SCK", ("Merino", "Cotton", "Wool", "Bamboo"), 8, 24),
    ("Hoodie", "HOD", ("Cotton", "Fleece", "Terry"), 55, 120),
    ("Jacket", "JKT", ("Waxed Cotton", "Wool", "Denim", "Canvas", "Corduroy"), 110, 250),
    ("Shirt", "SHT", ("Linen", "Flannel", "Oxford", "Chambray"), 45, 110),
    ("Dress", "DRS", ("Linen", "Cotton", "Jersey", "Silk"), 70, 200),
    ("Throw Blanket", "THR", ("Wool", "Cotton", "Mohair", "Fleece"), 55, 210),
    ("Cushion Cover", "CSH", ("Linen", "Velvet", "Cotton", "Wool"), 22, 65),
    ("Mug", "MUG", ("Stoneware", "Ceramic", "Enamel", "Porcelain"), 12, 34),
    ("Candle", "CND", ("Soy", "Beeswax", "Cedar", "Fig"), 14, 48),
    ("Tea Towel", "TWL", ("Linen", "Cotton", "Waffle"), 9, 28),
    ("Tote Bag", "TOT", ("Canvas", "Jute", "Leather", "Cotton"), 18, 95),
    ("Apron", "APR", ("Linen", "Canvas", "Denim"), 28, 75),
    ("Table Runner", "RUN", ("Linen", "Cotton", "Jute"), 24, 70),
    ("Napkin Set", "NAP", ("Linen", "Cotton"), 18, 52),
    ("Vase", "VAS", ("Stoneware", "Glass", "Ceramic", "Terracotta"), 22, 120),
    ("Planter", "PLN", ("Terracotta", "Stoneware", "Concrete"), 16, 85),
)

_ORIGIN_CUM = list(accumulate(o.weight for o in ORIGINS))
_DOMAIN_CUM = list(accumulate(w for _, w in EMAIL_DOMAINS))


def draw_person(rng: random.Random, emails: set[str]) -> tuple[str | None, str | None, str, str | None, WAddress]:
    """A customer-like person: first and last name (either may be None), a unique lower-case ASCII
    email (added to ``emails``), an E.164 phone or None, and an address in a country that fits."""
    origin = ORIGINS[bisect_right(_ORIGIN_CUM, rng.random() * _ORIGIN_CUM[-1])]
    first, first_roman = rng.choice(origin.first_names)
    last, last_roman = rng.choice(origin.last_names)
    f = re.sub(r"[^a-z0-9]", "", (first_roman or ascii_fold(first)).lower())
    l = re.sub(r"[^a-z0-9]", "", (last_roman or ascii_fold(last)).lower())
    missing = rng.random()
    first_name: str | None = None if missing < 0.01 else first
    last_name: str | None = None if 0.01 <= missing < 0.02 else last
    if first_name is None or last_name is None:
        local = (l if first_name is None else f) + str(rng.randint(1, 99))
    else:
        pattern = rng.randrange(7)
        local = (f"{f}.{l}", f"{f}{l}", f"{f[0]}{l}", f"{f}_{l}", f"{l}.{f}",
                 f"{f}{rng.randint(1, 99)}", f"{f}.{l}{rng.randint(70, 99)}")[pattern]
    tag = f"+{rng.choice(EMAIL_TAGS)}" if rng.random() < 0.04 else ""
    domain = EMAIL_DOMAINS[bisect_right(_DOMAIN_CUM, rng.random() * _DOMAIN_CUM[-1])][0]
    email = f"{local}{tag}@{domain}"
    while email in emails:
        email = f"{local}{rng.randint(1, 9999)}{tag}@{domain}"
    emails.add(email)
    codes, weights = zip(*origin.countries)
    country = COUNTRIES[rng.choices(codes, weights)[0]]
    phone = _phone(rng, country) if rng.random() < 0.3 else None
    return first_name, last_name, email, phone, _address(rng, country, first_name or "", last_name or "", phone)


def _phone(rng: random.Random, country: Country) -> str:
    lead = MOBILE_LEADS.get(country.code) or str(rng.randint(2, 9))
    digits = country.phone_digits - len(lead)
    return f"{country.phone_prefix}{lead}{rng.randrange(10**digits):0{digits}d}"


def _address(rng: random.Random, country: Country, first: str, last: str, phone: str | None) -> WAddress:
    city = rng.choice(country.cities)
    street = rng.choice(country.streets)
    if country.code == "JP":
        line1 = f"{rng.randint(1, 5)}-{rng.randint(1, 30)}-{rng.randint(1, 20)} {street}"
    else:
        n = rng.randint(1, 250)
        line1 = f"{n} {street}" if country.number_first else f"{street} {n}"
    postcode = "".join(str(rng.randrange(10)) if ch == "#" else chr(65 + rng.randrange(26)) if ch == "@" else ch
                       for ch in city.zip_pattern)
    company = rng.choice(COMPANIES) if rng.random() < 0.03 else None
    return WAddress(first, last, line1, city.city, city.province, city.province_code, country.name,
                    country.code, postcode, phone, company)


def copy_address(a: WAddress) -> WAddress:
    return WAddress(a.first_name, a.last_name, a.address1, a.city, a.province, a.province_code,
                    a.country, a.country_code, a.zip, a.phone, a.company)
