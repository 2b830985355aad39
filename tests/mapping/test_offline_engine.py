"""Offline column-mapping engine: normalisation, vocabulary, value shapes, assignment, column map."""

from __future__ import annotations

import json
import re

import pytest

from roster.mapping import ExistingProperty, Suggestion, suggest_offline, to_column_map
from roster.mapping.__main__ import main as cli_main
from roster.mapping.__main__ import read_sample
from roster.mapping.normalize import squash, to_key, tokens
from roster.mapping.values import infer_type, parse_bool, parse_subscription_status, profile

KEY = re.compile(r"^[A-Za-z0-9_]{1,50}$")
TEAM = [ExistingProperty(k, "string") for k in ("company", "plan", "country", "phone", "city")]
EMAILS = ["ada@example.com", "alan@acme.io", "grace@proton.me", "linus@gmail.com"]
FIRST = ["Ada", "Alan", "Grace", "Linus"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds"]


def run(columns: dict[str, list[str]], existing=TEAM) -> dict[str, Suggestion]:
    headers = list(columns)
    return {s.column: s for s in suggest_offline(headers, columns, list(existing))}


def target(s: Suggestion):
    """A compact view: "email", "unsubscribed!" (inverted), ("existing"|"new", key, type), "ignore"."""
    if s.target == "property":
        return ("new" if s.is_new_property else "existing", s.property_key, s.property_type)
    if s.target == "unsubscribed" and s.invert:
        return "unsubscribed!"
    return s.target


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, expected",
    [
        ("E-Mail Address", ["e", "mail", "address"]),
        ("emailAddress", ["email", "address"]),
        ("EMAILAddress", ["email", "address"]),
        ("first_name", ["first", "name"]),
        ("Correo electrónico", ["correo", "electronico"]),
        ("Straße", ["strasse"]),
        ("ＥＭＡＩＬ", ["email"]),  # full-width letters
        ("メールアドレス", ["メールアドレス"]),  # kana keep their dakuten, stay one token
        ("Address2", ["address", "2"]),
    ],
)
def test_tokens(header, expected):
    assert tokens(header) == expected


def test_squash_makes_spellings_equal():
    assert squash("First Name") == squash("first_name") == squash("FIRSTNAME") == squash("firstName")


@pytest.mark.parametrize(
    "header, key",
    [
        ("Lifetime Value", "lifetime_value"),
        ("Código Postal", "codigo_postal"),
        ("Country/Region", "country_region"),
        ("Created (UTC)", "created_utc"),
        ("totalSpent", "total_spent"),
        ("会員ランク", ""),  # nothing ASCII survives: the engine picks a fallback
    ],
)
def test_to_key(header, key):
    assert to_key(header) == key


# --- vocabulary, one language at a time ----------------------------------------------------------


@pytest.mark.parametrize(
    "email_h, first_h, last_h",
    [
        ("Email Address", "Given Name", "Surname"),  # English
        ("E-Mail-Adresse", "Vorname", "Nachname"),  # German
        ("Adresse e-mail", "Prénom", "Nom de famille"),  # French
        ("Correo electrónico", "Nombre de pila", "Apellidos"),  # Spanish
        ("Endereço de e-mail", "Primeiro nome", "Sobrenome"),  # Portuguese
        ("メールアドレス", "名", "姓"),  # Japanese
        ("EMAIL", "FIRSTNAME", "LASTNAME"),  # glued upper case
        ("emailAddress", "firstName", "lastName"),  # camelCase
    ],
)
def test_core_field_synonyms(email_h, first_h, last_h):
    got = run({email_h: EMAILS, first_h: FIRST, last_h: LAST})
    assert [target(got[h]) for h in (email_h, first_h, last_h)] == ["email", "first_name", "last_name"]
    assert all(0 < got[h].confidence <= 1 and got[h].reason for h in got)


def test_reason_names_language():
    got = run({"Vorname": FIRST})
    assert "German" in got["Vorname"].reason and got["Vorname"].engine == "offline"


@pytest.mark.parametrize("header", ["Full Name", "Nombre completo", "Nom complet", "氏名", "Vollständiger Name"])
def test_full_name_is_not_first_name(header):
    got = run({"Email": EMAILS, header: ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Linus Torvalds"]})
    s = got[header]
    assert s.target == "property" and s.is_new_property and s.property_type == "string"
    assert KEY.match(s.property_key)


def test_bare_name_column_decided_by_values():
    single = run({"Email": EMAILS, "Name": FIRST, "Surname": LAST})
    assert target(single["Name"]) == "first_name"
    full = run({"Email": EMAILS, "Name": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Linus T"]})
    assert full["Name"].target == "property"
    # French "Nom" alone is the family name, Spanish/Portuguese "Nombre"/"Nome" the given name.
    assert target(run({"Nom": LAST})["Nom"]) == "last_name"
    assert target(run({"Nome": FIRST})["Nome"]) == "first_name"


def test_generic_words_need_the_whole_header():
    got = run(
        {
            "Email": EMAILS,
            "Last Login": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-02"],
            "First Purchase": ["2024-01-01", "", "", "2024-01-05"],
        }
    )
    assert got["Last Login"].target == "property"
    assert got["First Purchase"].target == "property"


# --- values -------------------------------------------------------------------------------------


def test_email_column_found_by_values_under_odd_header():
    got = run({"Contact": EMAILS, "Who": FIRST})
    assert target(got["Contact"]) == "email"
    assert "email addresses" in got["Contact"].reason


def test_header_named_email_wins_over_other_email_columns():
    got = run(
        {
            "Manager": [e.replace("@", "+boss@") for e in EMAILS],
            "Email": EMAILS,
            "Personal Email": [e.replace("@", "+me@") for e in EMAILS],
        }
    )
    assert target(got["Email"]) == "email"
    assert target(got["Manager"]) == ("new", "manager", "string")
    assert target(got["Personal Email"]) == ("new", "personal_email", "string")


@pytest.mark.parametrize(
    "header, values, ptype",
    [
        ("Postcode", ["01234", "75001", "10115", "00501"], "string"),  # leading zeros: a code
        ("Reference", ["00123", "00456", "01789", "00012"], "string"),
        ("Branch", ["0123", "0456", "1789", "0012"], "string"),  # leading zeros, header says nothing
        ("Customer Number", ["100234", "100456", "100789", "100012"], "string"),  # id, not a quantity
        ("Account ID", ["17", "2", "345", "9"], "string"),
        ("Mobile", ["5551234567", "5559876543", "5550001111", ""], "string"),
        ("Seats", ["12", "3", "140", "7"], "number"),
        ("Revenue", ["1200.50", "-3.5", "0", "45"], "number"),
        ("Signed Up", ["2024-01-31", "2024-02-01 10:00:00", "31/12/2023", "2024-03-01T08:00:00Z"], "string"),
        ("Last IP", ["10.0.0.1", "192.168.1.20", "8.8.8.8", "1.1.1.1"], "string"),
        ("VIP", ["yes", "no", "No", "YES"], "boolean"),
        ("Kunde aktiv", ["ja", "nein", "ja", "ja"], "boolean"),
        ("Client fidèle", ["oui", "non", "oui", "non"], "boolean"),
        ("Cliente VIP", ["sí", "no", "Sí", "no"], "boolean"),
        ("Cliente ativo", ["sim", "não", "Sim", "nao"], "boolean"),
        ("Is Trial", ["1", "0", "0", "1"], "boolean"),  # 0/1 with a yes/no question header
        ("Children", ["1", "0", "0", "1"], "number"),  # 0/1 that is a count
    ],
)
def test_new_property_types(header, values, ptype):
    got = run({"Email": EMAILS, header: values}, existing=[])
    s = got[header]
    assert s.target == "property" and s.is_new_property
    assert s.property_type == ptype, s.reason


def test_value_helpers():
    assert parse_bool("Ja") is True and parse_bool("non") is False and parse_bool("maybe") is None
    assert parse_bool("はい") is True and parse_bool("Não") is False
    assert parse_subscription_status("NEVER_SUBSCRIBED") is False
    assert parse_subscription_status("Subscribed") is True
    assert infer_type(profile(["", "", ""])) == ("string", "no values in the sample, kept as text")
    p = profile(["a@b.co", "c@d.io", "nope"])
    assert 0.6 < p.email < 0.7


# --- consent: unsubscribed and its opposite -----------------------------------------------------


@pytest.mark.parametrize(
    "header, values",
    [
        ("Unsubscribed", ["TRUE", "false", "FALSE", "true"]),
        ("Opted Out", ["Yes", "No", "No", "No"]),
        ("Email Opt Out", ["0", "1", "1", "0"]),
        ("HasOptedOutOfEmail", ["true", "false", "false", "false"]),
        ("Abgemeldet", ["ja", "nein", "nein", "ja"]),
        ("Désabonné", ["oui", "non", "non", "oui"]),
        ("Dado de baja", ["sí", "no", "no", "no"]),
        ("Descadastrado", ["sim", "não", "não", "sim"]),
        ("配信停止", ["1", "0", "0", "0"]),
        ("Do Not Email", ["Y", "N", "N", "N"]),
        ("Not subscribed", ["true", "false", "false", "false"]),
    ],
)
def test_opt_out_maps_straight(header, values):
    got = run({"Email": EMAILS, header: values})
    assert target(got[header]) == "unsubscribed"


@pytest.mark.parametrize(
    "header, values",
    [
        ("Accepts Email Marketing", ["yes", "no", "Yes", "No"]),
        ("Email Marketing Consent", ["true", "false", "true", "true"]),
        ("Subscribed", ["1", "0", "1", "1"]),
        ("Newsletter", ["ja", "nein", "ja", "ja"]),
        ("emailOptIn", ["Y", "N", "Y", "Y"]),
        ("Abonné à la newsletter", ["oui", "non", "oui", "oui"]),
        ("Acepta comunicaciones", ["sí", "no", "sí", "sí"]),
        ("Aceita receber e-mails", ["sim", "não", "sim", "sim"]),
        ("メルマガ購読", ["はい", "いいえ", "はい", "はい"]),
        # status words instead of yes/no (Klaviyo-style): still the opposite of unsubscribed
        ("Email Marketing Consent", ["SUBSCRIBED", "NEVER_SUBSCRIBED", "UNSUBSCRIBED", "SUBSCRIBED"]),
    ],
)
def test_opt_in_is_inverted_never_straight(header, values):
    got = run({"Email": EMAILS, header: values})
    assert target(got[header]) == "unsubscribed!"
    cmap = to_column_map(list(got.values()))
    assert cmap["unsubscribed"] == {"column": header, "invert": True}


def test_other_channel_consent_is_a_boolean_property():
    got = run(
        {
            "Email": EMAILS,
            "Accepts Email Marketing": ["yes", "no", "yes", "yes"],
            "Accepts SMS Marketing": ["no", "Yes", "Yes", "No"],
            "SMS opt-in": ["1", "0", "0", "1"],
        }
    )
    assert target(got["Accepts Email Marketing"]) == "unsubscribed!"
    assert target(got["Accepts SMS Marketing"]) == ("new", "accepts_sms_marketing", "boolean")
    assert target(got["SMS opt-in"]) == ("new", "sms_opt_in", "boolean")
    terms = run({"Email": EMAILS, "Accepts Terms": ["yes", "yes", "no", "yes"]})
    assert target(terms["Accepts Terms"]) == ("new", "accepts_terms", "boolean")


def test_second_consent_column_becomes_boolean_property():
    got = run(
        {
            "Email": EMAILS,
            "Unsubscribed": ["FALSE", "TRUE", "FALSE", "FALSE"],
            "Marketing Consent": ["TRUE", "FALSE", "TRUE", "TRUE"],
        }
    )
    assert target(got["Unsubscribed"]) == "unsubscribed"
    assert target(got["Marketing Consent"]) == ("new", "marketing_consent", "boolean")


def test_consent_words_with_dates_are_not_flags():
    got = run(
        {"Email": EMAILS, "OPTIN_TIME": ["2025-04-10 09:10:00"] * 4, "Unsubscribe Date": ["2024-01-01", "", "", "2024-02-02"]}
    )
    # Not a consent flag; and since issue 21, Mailchimp's internal timestamp is left out (it was
    # a new text property `optin_time`).
    assert target(got["OPTIN_TIME"]) == "ignore" and "Mailchimp" in got["OPTIN_TIME"].reason
    assert got["Unsubscribe Date"].target == "property"


# --- existing properties -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, values, key",
    [
        ("Company Name", ["Acme", "Hooli", "", "Initech"], "company"),
        ("Phone Number", ["+1 415 555 0100", "", "+81 3-1234-5678", ""], "phone"),
        ("Firma", ["Acme", "Hooli", "Globex", "Initech"], "company"),
        ("Account Name", ["Acme", "Hooli", "Globex", "Initech"], "company"),
        ("Default Address City", ["Lyon", "Osaka", "Lagos", "Austin"], "city"),
        ("Mailing Country", ["Japan", "Poland", "Nigeria", "Japan"], "country"),
        ("CC", ["JP", "PL", "GB", "US"], "country"),  # ISO codes under a cryptic header
        ("Compnay", ["Acme", "Hooli", "Globex", "Initech"], "company"),  # typo: fuzzy
        ("Ciudad", ["Lima", "Quito", "Cusco", "Bogotá"], "city"),
        ("電話番号", ["03-1234-5678", "090-1234-5678", "", ""], "phone"),
    ],
)
def test_matches_existing_property(header, values, key):
    got = run({"Email": EMAILS, header: values})
    assert target(got[header]) == ("existing", key, "string")


def test_existing_property_keys_in_other_shapes():
    existing = [
        ExistingProperty("company_name", "string"),
        ExistingProperty("lifetime_value", "number"),
        ExistingProperty("mobile", "string"),
        ExistingProperty("name", "string"),
    ]
    got = run(
        {
            "Email": EMAILS,
            "Company": ["IBM", "Intel", "", "Apple"],
            "Customer Lifetime Value": ["100", "200.5", "0", "12"],
            "Cell Phone": ["555-0100", "555-0101", "", ""],
        },
        existing,
    )
    assert target(got["Company"]) == ("existing", "company_name", "string")
    assert target(got["Customer Lifetime Value"]) == ("existing", "lifetime_value", "number")
    assert target(got["Cell Phone"]) == ("existing", "mobile", "string")


def test_does_not_force_a_match():
    existing = [ExistingProperty("company", "string"), ExistingProperty("name", "string"), ExistingProperty("plan", "string")]
    got = run(
        {
            "Email": EMAILS,
            "Company Size": ["10", "200", "5000", "50"],
            "Company Name": ["IBM", "Intel", "HP", "Apple"],
            "Plan Price": ["9.99", "0", "49", "19"],
            "Company ID": ["77", "78", "79", "80"],
            "Address": ["Lyon", "Lisbon", "Lagos", "Osaka"],
        },
        existing,
    )
    assert target(got["Company Size"]) == ("new", "company_size", "number")
    assert target(got["Company Name"]) == ("existing", "company", "string")
    assert target(got["Plan Price"]) == ("new", "plan_price", "number")
    assert target(got["Company ID"]) == ("new", "company_id", "string")
    assert target(got["Address"]) == ("new", "address", "string")  # values are cities, header is not


def test_existing_type_mismatch_lowers_confidence():
    good = run({"Score": ["1", "2", "3", "4"]}, [ExistingProperty("score", "number")])["Score"]
    bad = run({"Score": ["high", "low", "mid", "low"]}, [ExistingProperty("score", "number")])["Score"]
    assert good.confidence > bad.confidence


# --- keys and uniqueness ---------------------------------------------------------------------------


def test_keys_are_sanitised_and_unique():
    long = "A very long header " * 5
    existing = [ExistingProperty("tags", "string"), ExistingProperty("plan", "string")]
    cols = {
        "Email": EMAILS,
        "Plan": ["a", "b", "c", "d"],
        "Plan ": ["x", "y", "z", "w"],
        "Notes!": ["n"] * 4,
        "notes": ["m"] * 4,
        long: ["v"] * 4,
        "会員ランク": ["ゴールド"] * 4,
        "Deal Stage": ["won", "lost", "open", "won"],
    }
    sugg = suggest_offline(list(cols), cols, existing)
    keys = [s.property_key for s in sugg if s.target == "property"]
    assert all(KEY.match(k) for k in keys), keys
    assert len(keys) == len(set(keys))
    by = {s.column: s for s in sugg}
    assert by["Plan"].property_key == "plan" and not by["Plan"].is_new_property
    assert by["Plan "].property_key not in {"plan", "tags"} and by["Plan "].is_new_property  # never reuses an existing key
    assert {by["Notes!"].property_key, by["notes"].property_key} == {"notes", "notes_2"}
    assert len(by[long].property_key) <= 50


def test_each_field_used_once():
    cols = {
        "Email": EMAILS,
        "E-mail": EMAILS,
        "First Name": FIRST,
        "Vorname": FIRST,
        "Company": ["a", "b", "c", "d"],
        "Firma": ["a", "b", "c", "d"],
        "Unsubscribed": ["0", "1", "0", "0"],
        "Opted Out": ["no", "yes", "no", "no"],
    }
    sugg = suggest_offline(list(cols), cols, TEAM)
    singles = [s.target for s in sugg if s.target != "property"]
    assert len(singles) == len(set(singles))
    assert [s.property_key for s in sugg if s.target == "property" and not s.is_new_property] == ["company"]


def test_suggestions_keep_header_order_and_duplicates_are_ignored():
    headers = ["Zip", "Email", "Email"]
    sugg = suggest_offline(headers, {"Zip": ["01234"] * 3, "Email": EMAILS[:3]}, [])
    assert [s.column for s in sugg] == headers
    assert sugg[1].target == "email" and sugg[2].target == "ignore"


# --- column map --------------------------------------------------------------------------------------


def test_to_column_map_shape():
    got = run(
        {
            "Email": EMAILS,
            "First Name": FIRST,
            "Last Name": LAST,
            "Opted Out": ["no", "yes", "no", "no"],
            "Company Name": ["a", "b", "c", "d"],
            "Seats": ["1", "2", "3", "4"],
            "": ["", "", "", ""],
        }
    )
    assert got[""].target == "ignore"
    assert to_column_map(list(got.values())) == {
        "email": "Email",
        "first_name": "First Name",
        "last_name": "Last Name",
        "unsubscribed": "Opted Out",
        "properties": {"company": {"column": "Company Name", "type": "string"}, "seats": {"column": "Seats", "type": "number"}},
    }


# --- realistic exports not in the benchmark ------------------------------------------------------------


def test_french_newsletter_export():
    got = run(
        {
            "Adresse e-mail": EMAILS,
            "Prénom": FIRST,
            "Nom": LAST,
            "Société": ["Orange", "Total", "", "Renault"],
            "Ville": ["Paris", "Lyon", "Lille", "Nice"],
            "Code postal": ["75001", "69002", "59000", "06000"],
            "Téléphone": ["01 23 45 67 89", "06 12 34 56 78", "", ""],
            "Inscrit à la newsletter": ["oui", "non", "oui", "oui"],
            "Date d'inscription": ["12/01/2024", "13/02/2024", "01/03/2024", "05/05/2024"],
        }
    )
    assert [target(s) for s in got.values()] == [
        "email",
        "first_name",
        "last_name",
        ("existing", "company", "string"),
        ("existing", "city", "string"),
        ("new", "code_postal", "string"),
        ("existing", "phone", "string"),
        "unsubscribed!",
        ("new", "date_d_inscription", "string"),
    ]


def test_japanese_member_list():
    existing = [ExistingProperty("prefecture", "string"), ExistingProperty("company", "string")]
    got = run(
        {
            "メールアドレス": EMAILS,
            "姓": ["山田", "佐藤", "鈴木", "高橋"],
            "名": ["太郎", "花子", "一郎", "美咲"],
            "氏名": ["山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲"],
            "会社名": ["トヨタ", "ソニー", "任天堂", "楽天"],
            "都道府県": ["東京都", "大阪府", "北海道", "東京都"],
            "郵便番号": ["100-0001", "150-0002", "060-0001", "530-0001"],
            "配信停止": ["0", "1", "0", "0"],
            "購入回数": ["3", "1", "0", "12"],
        },
        existing,
    )
    assert target(got["メールアドレス"]) == "email"
    assert target(got["姓"]) == "last_name" and target(got["名"]) == "first_name"
    assert target(got["氏名"]) == ("new", "full_name", "string")
    assert target(got["会社名"]) == ("existing", "company", "string")
    assert target(got["都道府県"]) == ("existing", "prefecture", "string")
    assert target(got["郵便番号"]) == ("new", "postal_code", "string")  # named after its concept
    assert target(got["配信停止"]) == "unsubscribed"
    s = got["購入回数"]
    assert s.property_type == "number" and KEY.match(s.property_key)


def test_google_contacts_export():
    got = run(
        {
            "Name": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Linus T"],
            "Given Name": FIRST,
            "Family Name": LAST,
            "E-mail 1 - Type": ["* Home", "* Work", "* Home", "* Other"],
            "E-mail 1 - Value": EMAILS,
            "Phone 1 - Value": ["+1 555 0100", "", "+44 20 7946 0958", ""],
            "Organization 1 - Name": ["IBM", "Intel", "", "Apple"],
        }
    )
    assert target(got["E-mail 1 - Value"]) == "email"
    assert target(got["E-mail 1 - Type"])[0] == "new"
    assert target(got["Phone 1 - Value"]) == ("existing", "phone", "string")
    assert target(got["Organization 1 - Name"]) == ("existing", "company", "string")
    assert target(got["Given Name"]) == "first_name" and target(got["Family Name"]) == "last_name"


def test_spanish_head_first_headers():
    got = run(
        {
            "Correo": EMAILS,
            "Nombre": FIRST,
            "Apellido Paterno": LAST,
            "Nombre de la empresa": ["BBVA", "Inditex", "", "Zara"],
            "Ciudad de residencia": ["Madrid", "Sevilla", "Bilbao", "León"],
        }
    )
    assert [target(s) for s in got.values()] == [
        "email",
        "first_name",
        "last_name",
        ("existing", "company", "string"),
        ("existing", "city", "string"),
    ]


# --- command line ------------------------------------------------------------------------------------


def test_cli_reads_bom_and_semicolons(tmp_path, capsys):
    csv_path = tmp_path / "list.csv"
    csv_path.write_bytes(
        "E-Mail;Vorname;PLZ;Newsletter\r\nada@x.de;Ada;01234;ja\r\nbob@y.de;Bob;10115;nein\r\n".encode("utf-8-sig")
    )
    props = tmp_path / "props.json"
    props.write_text(json.dumps([{"key": "plz", "type": "string"}]))
    assert read_sample(csv_path)[0] == ["E-Mail", "Vorname", "PLZ", "Newsletter"]
    assert cli_main([str(csv_path), "--existing-properties", str(props), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["column_map"] == {
        "email": "E-Mail",
        "first_name": "Vorname",
        "unsubscribed": {"column": "Newsletter", "invert": True},
        "properties": {"plz": {"column": "PLZ", "type": "string"}},
    }
    assert {s["engine"] for s in out["suggestions"]} == {"offline"}
    assert all(
        {"column", "target", "property_key", "property_type", "invert", "confidence", "reason"} <= s.keys()
        for s in out["suggestions"]
    )
