from tms.core import translations


def test_the_swahili_catalogue_is_complete_and_compiled():
    catalogues = translations.catalogues()
    assert any("/sw/" in str(path) for path in catalogues)
    for po_path in catalogues:
        assert translations.problems(po_path) == []
        assert po_path.with_suffix(".mo").read_bytes() == translations.compiled(po_path)
