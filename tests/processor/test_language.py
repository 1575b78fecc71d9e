"""Language detection and the declared-versus-detected rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newswatch.processor.language import (
    OVERRIDE_MIN_CHARS,
    SAMPLE_CHARS,
    cld2_detect,
    detect_language,
    primary_subtag,
)

EN_PARAGRAPH = (
    "Government troops pushed into the eastern districts of the city on Tuesday after a week of heavy "
    "fighting, according to residents who reached relatives by telephone. Aid agencies said thousands "
    "of families had fled towards the river and that food and medicine were running short in the camps."
)
FR_PARAGRAPH = (
    "Les forces gouvernementales sont entrées mardi dans les quartiers est de la ville après une semaine "
    "de combats intenses, selon des habitants joints par téléphone. Les organisations humanitaires "
    "indiquent que des milliers de familles ont fui vers le fleuve et que les vivres manquent dans les camps."
)
DE_PARAGRAPH = (
    "Regierungstruppen sind am Dienstag nach einer Woche schwerer Kämpfe in die östlichen Viertel der "
    "Stadt vorgerückt, berichten Bewohner am Telefon. Hilfsorganisationen zufolge sind tausende Familien "
    "zum Fluss geflohen, und in den Lagern werden Lebensmittel und Medikamente knapp."
)
ES_PARAGRAPH = (
    "Las tropas del Gobierno entraron el martes en los barrios del este de la ciudad tras una semana de "
    "intensos combates, según vecinos que hablaron por teléfono con sus familiares. Las organizaciones "
    "humanitarias afirman que miles de familias huyeron hacia el río y que faltan alimentos en los campos."
)
AR_PARAGRAPH = (
    "دخلت القوات الحكومية يوم الثلاثاء الأحياء الشرقية من المدينة بعد أسبوع من المعارك العنيفة، وفق سكان "
    "تحدثوا إلى أقاربهم عبر الهاتف. وقالت منظمات الإغاثة إن آلاف العائلات فرت نحو النهر وإن الغذاء والدواء "
    "بدآ ينفدان في المخيمات."
)
FR_FOOTER = (
    "\n\nCopyright © Auteur, Site, 2016\n\nAvis de non-responsabilité : les opinions exprimées dans cet "
    "article n'engagent que le ou les auteurs. Le site se dégage de toute responsabilité concernant le "
    "contenu de cet article et ne sera pas tenu responsable pour des erreurs ou des informations "
    "incorrectes ou inexactes. Toute reproduction est interdite sans la permission de l'auteur. " * 3
)


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        # Nothing declared: the detector decides, or says nothing.
        pytest.param(EN_PARAGRAPH, "", "en", id="en-paragraph"),
        pytest.param(FR_PARAGRAPH, "", "fr", id="fr-paragraph"),
        pytest.param(DE_PARAGRAPH, "", "de", id="de-paragraph"),
        pytest.param(ES_PARAGRAPH, "", "es", id="es-paragraph"),
        pytest.param(AR_PARAGRAPH, "", "ar", id="ar-paragraph"),
        pytest.param("Iraqi forces push into Hit after a week of fighting", "", "en", id="en-title"),
        pytest.param("L'armée reprend Palmyre après trois semaines de combats", "", "fr", id="fr-title"),
        pytest.param("الجيش يستعيد السيطرة على تدمر", "", "ar", id="ar-title"),
        pytest.param("Hit", "", "", id="one-word-unknown"),
        pytest.param("", "", "", id="empty"),
        pytest.param("2016-04-05 12:00 — 15 / 30 %", "", "", id="no-letters"),
        # Declared and detected agree.
        pytest.param(FR_PARAGRAPH, "fr-FR", "fr", id="agree-region-subtag"),
        pytest.param(EN_PARAGRAPH, "en_GB", "en", id="agree-underscore"),
        # A short text keeps its declaration, even a wrong-looking one.
        pytest.param("Iraqi forces push into Hit", "fr", "fr", id="short-keeps-declared"),
        pytest.param("Armee erobert Palmyra zurück", "de", "de", id="short-de-declared"),
        pytest.param("El ejército recupera Palmira", "es", "es", id="short-es-declared"),
        # A paragraph in another language overrules the feed's declaration.
        pytest.param(EN_PARAGRAPH, "fr", "en", id="en-in-french-feed"),
        pytest.param(FR_PARAGRAPH, "en", "fr", id="fr-in-english-feed"),
        pytest.param(AR_PARAGRAPH, "en", "ar", id="ar-in-english-feed"),
        # A French copyright footer does not make an English article French.
        pytest.param(EN_PARAGRAPH + FR_FOOTER, "", "en", id="footer-masked"),
        pytest.param(EN_PARAGRAPH + FR_FOOTER, "fr", "en", id="footer-masked-declared-fr"),
        # Half and half: not clear enough to overrule the declaration.
        pytest.param(EN_PARAGRAPH + " " + FR_PARAGRAPH, "en", "en", id="mixed-keeps-declared-en"),
        pytest.param(EN_PARAGRAPH + " " + FR_PARAGRAPH, "fr", "fr", id="mixed-keeps-declared-fr"),
        # Declarations that are no language fall back to detection.
        pytest.param(FR_PARAGRAPH, "und", "fr", id="declared-und"),
        pytest.param(FR_PARAGRAPH, "x-klingon", "fr", id="declared-private-use"),
        pytest.param("Hit", "fre", "fr", id="iso-639-2-declared"),
    ],
)
def test_declared_versus_detected(text: str, declared: str, expected: str) -> None:
    assert detect_language(text, declared) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("fr", "fr"),
        ("FR-ca", "fr"),
        ("en_US", "en"),
        (" de ", "de"),
        ("fra", "fr"),
        ("ger", "de"),
        ("iw", "he"),
        ("zh-Hant-TW", "zh"),
        ("ast", "ast"),
        ("und", ""),
        ("x-private", ""),
        ("e", ""),
        ("english", ""),
        ("12", ""),
        ("", ""),
        ("fr\u00e9", ""),
    ],
)
def test_primary_subtag(tag: str, expected: str) -> None:
    assert primary_subtag(tag) == expected


def test_seed_article_is_english_despite_french_header_and_footer(seed_text: str) -> None:
    # Mondialisation.ca declares French; the report is English with a French header and footer.
    assert detect_language(seed_text, "fr") == "en"
    assert detect_language(seed_text) == "en"


def test_only_the_sample_is_read() -> None:
    # A French text past the sample does not change an English verdict.
    text = (EN_PARAGRAPH + " ") * (SAMPLE_CHARS // len(EN_PARAGRAPH) + 1) + FR_PARAGRAPH * 20
    assert detect_language(text) == "en"


def test_short_threshold_boundary() -> None:
    short = EN_PARAGRAPH[: OVERRIDE_MIN_CHARS - 1]
    long = EN_PARAGRAPH[: OVERRIDE_MIN_CHARS + 60]
    assert detect_language(short, "fr") == "fr"
    assert detect_language(long, "fr") == "en"


@pytest.mark.parametrize("char", ["\x00", "\x0b", "\x7f", "\x85", "\ud800", "\ufffe", "\U0010ffff"])
def test_characters_cld2_refuses_are_cleaned(char: str) -> None:
    text = EN_PARAGRAPH.replace(" ", f" {char}", 5)
    assert cld2_detect(text).language == "en"
    assert detect_language(text, "fr") == "en"


@given(
    st.text(st.characters(exclude_categories=()), max_size=300),  # surrogates and controls included
    st.sampled_from(["", "fr", "en-GB", "und", "zz-Top", "ara"]),
)
def test_never_raises_and_returns_a_subtag(text: str, declared: str) -> None:
    result = detect_language(text, declared)
    assert result == "" or (result.isascii() and result.isalpha() and result.islower())
    assert 2 <= len(result) <= 3 or result == ""
