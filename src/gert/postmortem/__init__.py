"""Postmortems drafted from evidence.

- :mod:`gert.postmortem.draft`: the facts of an incident's runs, the document in Markdown,
  writing and merging it;
- :mod:`gert.postmortem.formats`: HTML and PDF renderings of the written Markdown.
"""

from gert.postmortem.draft import (
    BLAME,
    QUESTIONS,
    Postmortem,
    RenderError,
    answer_questions,
    build,
    collect_runs,
    commit,
    commit_message,
    document_path,
    for_incident,
    load_answers,
    related_incidents,
    render,
    slug,
    write,
)
from gert.postmortem.formats import body_html, chain_svg, to_html, to_pdf, write_renderings

__all__ = [
    "BLAME",
    "QUESTIONS",
    "Postmortem",
    "RenderError",
    "answer_questions",
    "body_html",
    "build",
    "chain_svg",
    "collect_runs",
    "commit",
    "commit_message",
    "document_path",
    "for_incident",
    "load_answers",
    "related_incidents",
    "render",
    "slug",
    "to_html",
    "to_pdf",
    "write",
    "write_renderings",
]
