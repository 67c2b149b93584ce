"""Article 1 of the Universal Declaration of Human Rights in four languages, for the language identifier's tests."""

# The Universal Declaration of Human Rights, article 1, after the translations published by the UN Office of the High
# Commissioner for Human Rights (https://www.ohchr.org/en/human-rights/universal-declaration/translations): public
# texts in each language, not sentences made up here. They were written down without access to that page, so a
# letter may differ from the published text; the tests use them only to check which language each is detected as.
UDHR_SETSWANA = (
    "Batho botlhe ba tsetswe ba gololesegile le go lekalekana ka seriti le ditshwanelo. Ba abetswe go akanya le "
    "maikutlo, mme ba tshwanetse go direlana ka mowa wa bokaulengwe."
)
UDHR_ZULU = (
    "Bonke abantu bazalwa bekhululekile belingana ngesithunzi nangamalungelo. Bahlanganiswe wumcabango nanembeza "
    "futhi kufanele baphathane ngomoya wobunye."
)
UDHR_ENGLISH = (
    "All human beings are born free and equal in dignity and rights. They are endowed with reason and conscience "
    "and should act towards one another in a spirit of brotherhood."
)
UDHR_GERMAN = (
    "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Sie sind mit Vernunft und Gewissen begabt "
    "und sollen einander im Geist der Brüderlichkeit begegnen."
)
