"""The seed article, built by hand to mirror tests/fixtures/articles/*.txt, and the templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.domain import Article, Image, RelatedArticle
from distributor.rendering import EmailContext

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

SEED_URL = (
    "https://ishr.ch/latest-updates/"
    "civil-society-stresses-importance-of-access-role-of-defenders-at-meeting-with-un-secretary-general/"
)
SEED_IMAGE_URL = "https://ishr.ch/sites/default/files/styles/hero/public/un-photo-manuel-elias.jpg"
SEED_PDF_URL = "https://ishr.ch/sites/default/files/civil-society-meets-secretary-general.pdf"
SEED_TITLE = (
    "Civil society stresses importance of access, role of defenders at meeting with "
    "UN Secretary-General"
)
SEED_LEAD = (
    "Members of six international NGOs spoke with UN Secretary-General Antonio Guterres and UN "
    "Assistant Secretary-General for Human Rights Ilze Brands Kehris, urging them to ensure civil "
    "society groups and human rights defenders can safely and easily access UN human rights "
    "mechanisms."
)
SEED_PARAGRAPHS = (
    "Human rights defenders work for a world that is more just, equal and sustainable for all; "
    "to achieve this vision, they play a central role in securing the full realisation of all "
    "human rights for all people: this key message was delivered during the 27 February meeting "
    "by ISHR Executive Director Phil Lynch, ISHR Programme Director Pooja Patel and "
    "representatives of Amnesty International, Human Rights Watch, the Center for Reproductive "
    "Rights, ILGA World and FIDH.",
    "The occasion of both the 75th anniversary of the Universal Declaration of Human Rights and "
    "the 25th anniversary of the Declaration on Human Rights Defenders provides an important "
    "opportunity to promote the participation of civil society at the UN, highlight the vital "
    "role of defenders and take concrete actions for their protection, the participants said.",
    "Participants further stressed the positive impact of hybrid meeting modalities, including "
    "online meetings or the use of pre-recorded statements, as tools to enhance civil society "
    "participation in UN human rights processes. They encouraged the Secretary-General and High "
    "Commissioner to push for these to be maintained and extended to bodies where they may not "
    "yet be fully implemented, also flagging the need to adequately fund some of the pillars of "
    "the UN human rights mechanism currently under stress, particularly the Treaty Bodies and "
    "the petitions system.",
    "NGO representatives also highlighted the value of UN-wide recommendations regarding civil "
    "society participation, including in the Secretary-General’s Call to Action for Human Rights "
    "and the UN Guidance Note on Protection and Promotion of Civic Space, welcoming Guterres’ "
    "commitment to follow up, audit and report on the implementation of these guidelines.",
    "Finally, participants called on the Secretary-General to continue to speak out publicly and "
    "denounce both grave, systemic human rights violations – from Russia’s war crimes in "
    "Ukraine, to China’s crimes against humanity in Xinjiang, to the Taliban’s gender apartheid "
    "in Afghanistan, to Israel’s policy of apartheid against the Palestinians – as well as acts "
    "of reprisals committed by States against prominent human rights activists, such as "
    "Kashmiri defender Khurram Parvez.",
)
SEED_RELATED = (
    RelatedArticle(
        title="UN80 Reform: States endorse slashing of human rights budget",
        summary=(
            "At a time of financial strife and ongoing reform for the organisation, States have "
            "adopted a 2026 budget cutting 117 jobs at the UN’s Human Rights Office."
        ),
        url="https://ishr.ch/latest-updates/un80-reform-states-endorse-slashing-of-human-rights-budget/",
    ),
    RelatedArticle(
        title=(
            "Venezuela: ISHR and human rights organisations condemn US military attack and "
            "express concern for human rights"
        ),
        summary=(
            "ISHR and 37 human rights organisations in Latin America issued a joint statement "
            "condemning the United States military attack against Venezuela."
        ),
        url="https://ishr.ch/latest-updates/venezuela-ishr-condemns-us-military-attack/",
    ),
)


def make_article(**changes: object) -> Article:
    """The seed article with some fields replaced."""
    fields: dict[str, object] = {
        "title": SEED_TITLE,
        "lead": SEED_LEAD,
        "body_html": "".join(f"<p>{p}</p>" for p in SEED_PARAGRAPHS),
        "url": SEED_URL,
        "guid": SEED_URL,
        "categories": ("News", "Human rights defenders", "UN Secretary-General"),
        "image": Image(url=SEED_IMAGE_URL, credit="UN Photo / Manuel Elias"),
        "pdf_url": SEED_PDF_URL,
        "related": SEED_RELATED,
    }
    fields.update(changes)
    return Article(**fields)  # type: ignore[arg-type]


@pytest.fixture
def seed_article() -> Article:
    return make_article()


@pytest.fixture
def email_context() -> EmailContext:
    return EmailContext(
        org_name="International Service for Human Rights",
        postal_address="Rue de Varembé 1, 1202 Geneva, Switzerland",
        templates_dir=TEMPLATES,
    )
