"""markdown_page: one self-contained HTML page with the not-for-release banner."""

from __future__ import annotations

import base64
import re

import pytest
from matplotlib.figure import Figure

from dpsynth.errors import DpsynthError
from dpsynth.validators.notice import BANNER, NOTICE
from dpsynth.validators.plot_files import save_figure
from dpsynth.validators.report_html import ReportPageError, markdown_page

CHECKLIST = """# Audit of <demo>

| Check | Status | Decided by |
|---|---|---|
| utility | pass | ratio 0.97 |
| fairness | **WARN** | gap 0.12 |
| fidelity | **FAIL** | detection 0.95 |
| memorisation | n/a | not run |

Overall: pass (a word outside a table stays a word).

| Measure | Value | Reading |
|---|---|---|
| AUROC | 0.795 [0.688, 0.866] | 1 = synthetic as useful as real |
| TPR | 0.71 / 0.65 | TSTR / TRTR |

## Subgroups by sex
"""


@pytest.fixture(scope="module")
def plot_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    fig = Figure(figsize=(2, 1.5))
    fig.subplots().plot([0, 1], [1, 0])
    save_figure(fig, out / "plots" / "fairness sex.png")
    return out


def cell_of(page: str, text: str) -> str:
    """The opening <td ...> tag of the cell holding ``text``."""
    return re.search(r"<td[^>]*>(?=(?:(?!</td>).)*" + re.escape(text) + ")", page, re.S).group(0)


def test_the_banner_and_notice_open_the_page_and_each_printed_page(plot_dir):
    page = markdown_page(CHECKLIST, base_dir=plot_dir, title="dpsynth audit: demo")
    body = page.split("<body>", 1)[1]
    assert body.index(BANNER) < body.index("<main>") and NOTICE in body.split("<main>")[0]
    print_css = page.split("@media print", 1)[1]
    assert re.search(r"\.banner \{ position: fixed;", print_css)  # a fixed header repeats on every printed page
    assert "<title>dpsynth audit: demo</title>" in page


def test_local_images_are_inlined_as_data_uris(plot_dir):
    png = (plot_dir / "plots" / "fairness sex.png").read_bytes()
    page = markdown_page("![fairness](plots/fairness%20sex.png)\n", base_dir=plot_dir, title="t")
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in page
    assert 'src="plots/' not in page


def test_a_missing_image_is_an_error_naming_it(tmp_path):
    with pytest.raises(ReportPageError, match="'plots/gone.png'.*does not exist") as error:
        markdown_page("![gone](plots/gone.png)\n", base_dir=tmp_path, title="t")
    assert isinstance(error.value, DpsynthError)


def test_a_remote_image_is_refused(tmp_path):
    with pytest.raises(ReportPageError, match="remote image 'https://example.org/x.png'"):
        markdown_page("![x](https://example.org/x.png)\n", base_dir=tmp_path, title="t")


def test_tables_render_with_numbers_right_aligned(plot_dir):
    page = markdown_page(CHECKLIST, base_dir=plot_dir, title="t")
    assert page.count("<table>") == 2 and "<th>Decided by</th>" in page
    assert 'class="num"' in cell_of(page, "0.795 [0.688, 0.866]")
    assert 'class="num"' in cell_of(page, "0.71 / 0.65")
    assert 'class="num"' not in cell_of(page, "1 = synthetic as useful as real")
    assert 'class="num"' not in cell_of(page, "TSTR / TRTR")
    assert "td.num { text-align: right;" in page


def test_status_cells_become_badges(plot_dir):
    page = markdown_page(CHECKLIST, base_dir=plot_dir, title="t")
    for word, kind in (("PASS", "pass"), ("WARN", "warn"), ("FAIL", "fail"), ("N/A", "na")):
        assert f'<td class="status"><span class="badge badge-{kind}">{word}</span></td>' in page, word
    assert "Overall: pass (a word" in page  # outside a table: left as written
    assert ".badge-fail {" in page


def test_the_page_stands_alone_and_shows_raw_html_as_text(plot_dir):
    page = markdown_page(CHECKLIST + "\n<script>alert(1)</script> <img src=x>\n", base_dir=plot_dir, title="<t>")
    assert "<script" not in page and "<img src=x>" not in page and "&lt;script&gt;" in page
    assert "<title>&lt;t&gt;</title>" in page and "Audit of &lt;demo&gt;" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page) and "@import" not in page
    assert "default-src 'none'" in page  # the browser itself refuses to fetch anything


def test_headings_get_the_anchors_the_report_links_to(plot_dir):
    page = markdown_page(CHECKLIST + "\n## Subgroups by sex\n", base_dir=plot_dir, title="t")
    assert '<h2 id="subgroups-by-sex">' in page and '<h2 id="subgroups-by-sex-1">' in page
