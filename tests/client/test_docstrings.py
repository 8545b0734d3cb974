from toolwire.client.docstrings import parse_docstring


def test_google_style():
    doc = parse_docstring('''Fetch the weather.

    Longer explanation
    over two lines.

    Args:
        location (str): City name, e.g. 'San Francisco'.
        unit: Temperature unit,
            continued here.
        *extra: ignored star.

    Returns:
        dict: temperature and condition.
    ''')
    assert doc.description == (
        "Fetch the weather.\n\nLonger explanation\nover two lines.\n\n"
        "Returns:\n    dict: temperature and condition."
    )
    assert doc.params == {"location": "City name, e.g. 'San Francisco'.",
                          "unit": "Temperature unit, continued here.", "extra": "ignored star."}


def test_google_parameters_header_and_entry_text_on_next_line():
    doc = parse_docstring("""Do it.

    Parameters:
        a:
            The a.
        b (int, optional): The b.
    """)
    assert doc.description == "Do it."
    assert doc.params == {"a": "The a.", "b": "The b."}


def test_rest_style():
    doc = parse_docstring("""Look up a user.

    :param email: The address,
        lower case.
    :type email: str
    :param int limit: At most this many.
    :returns: the user or None.
    :rtype: dict
    """)
    assert doc.description == "Look up a user.\n\n:returns: the user or None."
    assert doc.params == {"email": "The address, lower case.", "limit": "At most this many."}


def test_numpy_style():
    doc = parse_docstring("""Add numbers.

    Parameters
    ----------
    a : int
        First number.
    b : int, optional
        Second number,
        two lines.

    Returns
    -------
    int
        The sum.
    """)
    assert doc.params == {"a": "First number.", "b": "Second number, two lines."}
    assert doc.description == "Add numbers.\n\nReturns\n-------\nint\n    The sum."


def test_empty_and_plain():
    assert parse_docstring(None).description is None
    assert parse_docstring("   ").description is None
    assert parse_docstring("Just text.").description == "Just text."
    assert parse_docstring("Just text.").params == {}
