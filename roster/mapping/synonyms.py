"""Multilingual vocabulary: what headers mean, by concept and language.

Phrases are written naturally; they are normalised with the same `tokens()` as headers, so
"E-Mail-Adresse", "e mail adresse" and "EMailAdresse" are all the same phrase. Japanese
phrases are matched as substrings of the header (Japanese has no spaces between words).

This is vocabulary, not a table of benchmark headers: each list is the ordinary words an export
from a CRM / newsletter tool / spreadsheet uses in that language.
"""
from __future__ import annotations

# Contact fields (email, names) and a "full name" concept that is *not* first_name.
CORE: dict[str, dict[str, list[str]]] = {
    "email": {
        "English": ["email", "e-mail", "email address", "e-mail address", "mail", "email addr", "emailaddress",
                    "mail address", "electronic mail", "email id"],
        "German": ["e-mail-adresse", "emailadresse", "mailadresse", "e-mail adresse", "elektronische post"],
        "French": ["courriel", "adresse e-mail", "adresse email", "adresse courriel", "adresse mail", "mel", "mél"],
        "Spanish": ["correo", "correo electronico", "correo-e", "direccion de correo", "direccion de email",
                    "direccion de correo electronico", "email de contacto"],
        "Portuguese": ["endereco de email", "endereco de e-mail", "correio eletronico", "e-mail de contato"],
        "Japanese": ["メールアドレス", "メール", "eメール", "電子メール", "メアド", "mailアドレス"],
    },
    "first_name": {
        "English": ["first name", "firstname", "given name", "forename", "first", "fname", "given names",
                    "christian name"],
        "German": ["vorname", "vornamen", "rufname"],
        "French": ["prenom", "prenoms"],
        "Spanish": ["nombre de pila", "primer nombre", "nombres"],
        "Portuguese": ["primeiro nome", "nome proprio", "prenome"],
        "Japanese": ["名", "下の名前", "ファーストネーム", "名(漢字)", "名（漢字）"],
    },
    "last_name": {
        "English": ["last name", "lastname", "surname", "family name", "last", "lname", "second name"],
        "German": ["nachname", "familienname", "zuname"],
        "French": ["nom de famille", "nom"],
        "Spanish": ["apellido", "apellidos", "primer apellido", "apellido paterno"],
        "Portuguese": ["sobrenome", "apelido", "ultimo nome", "nome de familia"],
        "Japanese": ["姓", "苗字", "名字", "ラストネーム", "姓(漢字)", "姓（漢字）"],
    },
    "full_name": {
        "English": ["name", "full name", "fullname", "contact name", "customer name", "display name",
                    "complete name", "person name", "client name", "member name", "subscriber name"],
        "German": ["vollstandiger name", "name", "kundenname", "anzeigename"],
        "French": ["nom complet", "nom et prenom", "nom prenom", "prenom nom"],
        "Spanish": ["nombre completo", "nombre y apellidos", "nombre y apellido"],
        "Portuguese": ["nome completo", "nome"],
        "Japanese": ["氏名", "名前", "お名前", "フルネーム", "姓名", "氏名(漢字)"],
    },
}

# Header words that alone are ambiguous between a single name part and a whole name: decided by
# the values (one word -> the name part, several words -> full name).
AMBIGUOUS_NAME = {"name": "first_name", "nombre": "first_name", "nome": "first_name", "nom": "last_name"}

# Ordinary contact attributes: used to match headers to the team's existing property keys (the key
# "company" and the header "Firma" share the concept company), and to name new properties when a
# header has no ASCII letters (郵便番号 -> postal_code).
PROPERTY_CONCEPTS: dict[str, dict[str, list[str]]] = {
    "company": {
        "English": ["company", "company name", "organization", "organisation", "org", "organization name",
                    "account", "account name", "employer", "business name", "firm", "companyname", "business",
                    "workplace", "place of work", "works at", "employer name", "organisation name"],
        "German": ["firma", "firmenname", "unternehmen", "arbeitgeber", "betrieb"],
        "French": ["entreprise", "societe", "organisme", "nom de l entreprise", "raison sociale"],
        "Spanish": ["empresa", "compania", "organizacion", "nombre de la empresa"],
        "Portuguese": ["empresa", "companhia", "organizacao", "nome da empresa"],
        "Japanese": ["会社", "会社名", "企業", "企業名", "勤務先", "所属", "法人名", "組織"],
    },
    "lifetime_value": {
        "English": ["lifetime value", "ltv", "clv", "customer lifetime value", "lifetime revenue", "lifetime spend",
                    "total lifetime value", "lifetime sales"],
        "German": ["kundenwert", "kundenlebenswert"],
        "French": ["valeur vie client", "valeur a vie", "valeur client"],
        "Spanish": ["valor de vida del cliente", "valor del cliente", "valor de por vida"],
        "Portuguese": ["valor do tempo de vida", "valor do cliente", "valor vitalicio"],
        "Japanese": ["顧客生涯価値", "ライフタイムバリュー", "累計購入金額"],
    },
    "phone": {
        "English": ["phone", "phone number", "telephone", "tel", "mobile", "mobile phone", "cell", "cell phone",
                    "sms", "mobile number", "phone no", "tel no", "telephone number", "whatsapp"],
        "German": ["telefon", "telefonnummer", "handy", "mobil", "mobilnummer", "rufnummer", "handynummer"],
        "French": ["telephone", "portable", "numero de telephone", "tel portable", "mobile"],
        "Spanish": ["telefono", "movil", "celular", "numero de telefono"],
        "Portuguese": ["telefone", "celular", "numero de telefone", "telemovel"],
        "Japanese": ["電話", "電話番号", "携帯", "携帯電話", "携帯番号", "tel"],
    },
    "city": {
        "English": ["city", "town", "locality"],
        "German": ["stadt", "ort", "wohnort"],
        "French": ["ville", "localite", "commune"],
        "Spanish": ["ciudad", "localidad", "municipio", "poblacion"],
        "Portuguese": ["cidade", "municipio", "localidade"],
        "Japanese": ["市区町村", "都市", "市町村", "市"],
    },
    "country": {
        "English": ["country", "country code", "country region", "nation", "country name", "nationality"],
        "German": ["land", "staat", "landescode"],
        "French": ["pays", "code pays"],
        "Spanish": ["pais", "codigo de pais", "nacionalidad"],
        "Portuguese": ["pais", "codigo do pais"],
        "Japanese": ["国", "国名", "国籍"],
    },
    "state": {
        "English": ["state", "province", "region", "county", "state province", "state region", "prefecture"],
        "German": ["bundesland", "region", "kanton"],
        "French": ["region", "departement", "province", "etat"],
        "Spanish": ["estado", "provincia", "region", "comunidad autonoma"],
        "Portuguese": ["estado", "provincia", "regiao", "uf"],
        "Japanese": ["都道府県", "県"],
    },
    "postal_code": {
        "English": ["zip", "zip code", "zipcode", "postal code", "postcode", "post code", "zip postal code"],
        "German": ["plz", "postleitzahl"],
        "French": ["code postal", "cp"],
        "Spanish": ["codigo postal", "cp"],
        "Portuguese": ["cep", "codigo postal"],
        "Japanese": ["郵便番号", "〒"],
    },
    "address": {
        "English": ["address", "street", "street address", "address line", "address 1", "address line 1", "addr"],
        "German": ["adresse", "strasse", "anschrift", "hausnummer"],
        "French": ["adresse", "rue", "adresse postale"],
        "Spanish": ["direccion", "calle", "domicilio"],
        "Portuguese": ["endereco", "rua", "morada", "logradouro"],
        "Japanese": ["住所", "番地"],
    },
    "website": {
        "English": ["website", "web site", "url", "homepage", "web", "site"],
        "German": ["webseite", "internetseite"],
        "French": ["site web", "site internet"],
        "Spanish": ["sitio web", "pagina web"],
        "Portuguese": ["site", "pagina"],
        "Japanese": ["ウェブサイト", "ホームページ", "url"],
    },
    "job_title": {
        "English": ["job title", "title", "position", "role", "job", "occupation", "designation"],
        "German": ["position", "berufsbezeichnung", "beruf", "funktion", "titel"],
        "French": ["poste", "fonction", "titre", "metier"],
        "Spanish": ["cargo", "puesto", "ocupacion", "profesion"],
        "Portuguese": ["cargo", "funcao", "profissao"],
        "Japanese": ["役職", "職種", "肩書"],
    },
    "plan": {
        "English": ["plan", "tier", "subscription plan", "pricing plan", "package"],
        "German": ["tarif", "paket"],
        "French": ["forfait", "offre"],
        "Spanish": ["plan", "tarifa"],
        "Portuguese": ["plano"],
        "Japanese": ["プラン", "料金プラン"],
    },
    "language": {
        "English": ["language", "locale", "preferred language", "lang"],
        "German": ["sprache"],
        "French": ["langue"],
        "Spanish": ["idioma", "lengua"],
        "Portuguese": ["idioma", "lingua"],
        "Japanese": ["言語"],
    },
    "birthday": {
        "English": ["birthday", "birth date", "date of birth", "dob", "birthdate"],
        "German": ["geburtstag", "geburtsdatum"],
        "French": ["date de naissance", "anniversaire"],
        "Spanish": ["fecha de nacimiento", "cumpleanos"],
        "Portuguese": ["data de nascimento", "aniversario"],
        "Japanese": ["生年月日", "誕生日"],
    },
    "gender": {
        "English": ["gender", "sex", "salutation"],
        "German": ["geschlecht", "anrede"],
        "French": ["genre", "sexe", "civilite"],
        "Spanish": ["genero", "sexo", "tratamiento"],
        "Portuguese": ["genero", "sexo"],
        "Japanese": ["性別"],
    },
    "industry": {
        "English": ["industry", "sector", "vertical"],
        "German": ["branche", "industrie"],
        "French": ["secteur", "secteur d activite", "industrie"],
        "Spanish": ["industria", "sector"],
        "Portuguese": ["setor", "industria", "ramo"],
        "Japanese": ["業種", "業界"],
    },
    "source": {
        "English": ["source", "lead source", "signup source", "referral source", "acquisition channel", "origin"],
        "German": ["quelle", "herkunft"],
        "French": ["source", "origine", "provenance"],
        "Spanish": ["origen", "fuente"],
        "Portuguese": ["origem", "fonte"],
        "Japanese": ["流入元", "登録経路", "ソース"],
    },
    "notes": {
        "English": ["notes", "note", "comments", "comment", "remarks"],
        "German": ["notizen", "notiz", "bemerkung", "bemerkungen", "kommentar"],
        "French": ["remarques", "commentaire", "commentaires"],
        "Spanish": ["notas", "comentarios", "observaciones"],
        "Portuguese": ["notas", "observacoes", "comentarios"],
        "Japanese": ["備考", "メモ", "コメント"],
    },
    "timezone": {
        "English": ["timezone", "time zone", "tz"],
        "German": ["zeitzone"],
        "French": ["fuseau horaire"],
        "Spanish": ["zona horaria"],
        "Portuguese": ["fuso horario"],
        "Japanese": ["タイムゾーン"],
    },
    "tags": {
        "English": ["tags", "tag", "labels", "segments"],
        "German": ["schlagworte", "stichworte"],
        "French": ["etiquettes", "libelles"],
        "Spanish": ["etiquetas"],
        "Portuguese": ["etiquetas", "marcadores"],
        "Japanese": ["タグ", "ラベル"],
    },
}

# Concepts whose values are codes or dialable numbers: always strings, even when all digits.
STRING_CONCEPTS = {"phone", "postal_code", "address"}

# --- consent / subscription ---------------------------------------------------------------------
# "The contact does NOT want email": maps straight onto unsubscribed.
OPT_OUT: dict[str, list[str]] = {
    "English": ["unsubscribed", "unsubscribe", "unsub", "opt out", "opted out", "optout", "optedout",
                "blacklisted", "blacklist", "blocklisted", "blocklist", "suppressed", "suppression",
                "do not email", "donotemail", "do not contact", "do not mail", "no email", "no marketing",
                "email opt out", "has opted out", "unsubscribed from emails", "blocked"],
    "German": ["abgemeldet", "abmeldung", "ausgetragen", "austragung", "abbestellt", "newsletter abgemeldet",
               "gesperrt", "werbesperre", "widerspruch", "kein newsletter", "keine werbung"],
    "French": ["desabonne", "desinscrit", "desinscription", "desabonnement", "opposition", "ne pas contacter"],
    "Spanish": ["dado de baja", "baja", "desuscrito", "dar de baja", "no suscrito", "cancelo suscripcion",
                "no contactar", "no enviar"],
    "Portuguese": ["descadastrado", "descadastro", "cancelou inscricao", "desinscrito", "inscricao cancelada",
                   "nao enviar", "nao contatar"],
    "Japanese": ["配信停止", "購読解除", "登録解除", "配信解除", "退会", "配信拒否", "受信拒否"],
}

# "The contact DOES want email / marketing": the opposite of unsubscribed (mapped with invert).
OPT_IN: dict[str, list[str]] = {
    "English": ["subscribed", "subscribe", "subscription", "opt in", "opted in", "optin", "optedin",
                "accepts marketing", "accepts email marketing", "accepts email", "marketing consent",
                "email consent", "consent", "consented", "newsletter", "marketing", "marketing emails",
                "email marketing", "permission", "marketing opt in", "allow email", "allows email",
                "agreed", "wants email", "gdpr consent", "double opt in", "is subscribed", "accepts",
                "can email", "ok to email", "email ok", "email allowed", "may email", "permission to email",
                "email permission", "marketing permission", "contactable", "gdpr", "email opt in status"],
    "German": ["abonniert", "abonnent", "einwilligung", "newsletter anmeldung", "angemeldet",
               "werbeeinwilligung", "zustimmung", "marketing einwilligung", "newsletter einwilligung"],
    "French": ["abonne", "inscrit", "consentement", "accepte", "accepte les emails", "infolettre",
               "accepte la newsletter", "optin", "inscrit newsletter"],
    "Spanish": ["suscrito", "suscripcion", "acepta", "consentimiento", "acepta marketing",
                "acepta comunicaciones", "boletin", "suscrito al boletin"],
    "Portuguese": ["inscrito", "assinante", "aceita", "consentimento", "aceita marketing", "aceita emails",
                   "inscricao"],
    "Japanese": ["購読", "配信希望", "ニュースレター", "メルマガ", "メールマガジン", "同意", "受信許可", "配信許可", "メルマガ購読"],
}

# Consent about another channel is not email consent: a boolean property, not unsubscribed.
OTHER_CHANNELS = {"sms", "text", "texts", "phone", "call", "calls", "whatsapp", "push", "postal", "post",
                  "telefon", "telephone", "telefono", "telefone", "mms", "fax", "print", "direct mail", "voice",
                  "tel", "電話", "携帯", "ショートメール", "lettre", "courrier", "correo postal", "briefpost"}
# Consent to something other than email marketing ("Accepts Terms", "Datenschutz akzeptiert") is
# not a subscription either: same treatment as another channel.
OTHER_CHANNELS |= {"terms", "tos", "privacy", "cookie", "cookies", "agb", "datenschutz", "cgu", "cgv",
                   "conditions", "terminos", "termos", "privacidad", "privacidade", "confidentialite",
                   "利用規約", "個人情報"}
# A negation in front of an opt-in word turns it into an opt-out ("Not subscribed").
NEGATIONS = {"not", "non", "no", "nicht", "kein", "keine", "pas", "nao", "never"}

# Words that carry no meaning for matching ("Default Address City" is about the city).
# Opt-in words that say a column is about consent but not which way its values point ("Consent",
# "Marketing", "GDPR": yes could mean "agreed" or "objected"): read as opted in, but marked for a
# person to check rather than taken as sure.
AMBIGUOUS_CONSENT = {"consent", "permission", "marketing", "gdpr", "agreed", "subscription", "contactable"}

# Shortened words that exports use in name headers ("FirstNm", "Frst Name", "Fam_Name"), spelled
# out before matching so they meet the vocabulary above.
ABBREVIATIONS = {"nm": "name", "nme": "name", "nam": "name", "frst": "first", "fst": "first", "fist": "first",
                 "lst": "last", "lname": "lname", "fam": "family", "gvn": "given", "sur": "sur"}
# A single letter before "name" ("F. Name", "L_Name", "G Name"), or after first/last ("First_N").
NAME_INITIALS = {"f": "first", "l": "last", "g": "given", "s": "surname"}
# Whole headers that are only initials of a name part; they count only over values that look like names.
NAME_PART_INITIALS = {"fn": ["first", "name"], "ln": ["last", "name"], "gn": ["given", "name"],
                      "sn": ["surname"]}

FILLERS = {"the", "of", "a", "an", "de", "la", "le", "les", "l", "del", "du", "des", "da", "do", "das", "der",
           "die", "den", "el", "los", "las", "and", "y", "und", "et", "your", "my", "default", "primary",
           "main", "mailing", "billing", "shipping", "contact", "customer", "client", "kunde", "kunden",
           "user", "member", "subscriber", "person", "personal", "home", "work", "current", "preferred", "utc",
           "field", "custom", "cf", "mmerge", "merge"}

# Header words that mark an identifier: digits in it are not quantities.
ID_WORDS = {"id", "ids", "uuid", "guid", "identifier", "ref", "reference", "nr", "no", "nummer", "numero",
            "num", "code", "key", "sku", "ean", "isbn", "iban", "vat", "ssn", "token", "hash",
            "番号", "コード"}

# Header words that make a 0/1 column a yes/no flag rather than a count.
FLAG_WORDS = {"is", "has", "accepts", "accept", "allow", "allows", "opt", "opted", "optin", "optout", "flag",
              "active", "enabled", "verified", "confirmed", "consent", "subscribed", "unsubscribed", "vip",
              "blacklisted", "blocked", "bounced", "deleted", "archived", "valid", "can", "wants", "newsletter"}


def phrase_list(table: dict[str, list[str]]) -> list[tuple[str, str]]:
    """[(language, phrase)] for one concept's table."""
    return [(lang, p) for lang, phrases in table.items() for p in phrases]
