"""`automl-kit diagnose` end to end on digits, and the report checked in a real (headless) browser."""

import json
import re
import shutil
import subprocess

import pytest

from automl_kit.cli import main
from tests.diagnose.conftest import dense_model

DATA = ["--dataset", "digits", "--n-train", "400", "--n-val", "150", "--seed", "0"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, digits):
    model = dense_model()
    model.fit(digits.x_train, digits.y_train, epochs=10, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("model") / "m.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def report_dir(saved_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("diag") / "run"
    code = main(
        [
            "diagnose",
            "--model",
            str(saved_model),
            *DATA,
            "--human-level-error",
            "0.01",
            "--label-issues",
            "--cv",
            "2",
            "--label-epochs",
            "2",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    return out


def test_cli_writes_report_json_and_label_issues(report_dir):
    results = json.loads((report_dir / "results.json").read_text())
    saved = json.loads((report_dir / "diagnosis.json").read_text())
    assert results["verdict"] == saved["verdict"]
    assert results["errors"]["human_level"] == 0.01
    assert results["label_issues"]["n"] == 400
    # images: out-of-fold probabilities from the textbook CNN, cost recorded
    cost = results["label_issues"]["probabilities"]
    assert cost["model"] == "cnn" and cost["folds"] == 2 and cost["epochs"] == 2
    for name in ("report.html", "confusion_dev.png", "errors_to_tag.csv", "label_issues.csv"):
        assert (report_dir / name).is_file(), name
    html = (report_dir / "report.html").read_text()
    # self-contained: every image embedded, nothing fetched
    assert not re.search(r'src="(?!data:)', html)
    assert json.loads((report_dir / "run.json").read_text())["status"] == "finished"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--model", "missing.keras"], "no such file"),
        (["--model", "model.h5"], "saved with model.save"),
        (["--model", "x.keras", "--human-level-error", "5"], "fraction in [0, 1]"),
        (["--model", "x.keras", "--tolerance", "0"], "--tolerance must be in (0, 1)"),
    ],
)
def test_cli_rejects_bad_arguments_before_any_work(tmp_path, capsys, args, fragment):
    try:
        code = main(["diagnose", *args, *DATA, "--out", str(tmp_path / "run")])
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_cli_rejects_model_for_other_data(saved_model, tmp_path, capsys):
    rows = ["a,b,label"] + [f"{i % 7},{i % 3},{i % 2}" for i in range(60)]
    table = tmp_path / "t.csv"
    table.write_text("\n".join(rows) + "\n")
    code = main(
        [
            "diagnose",
            "--model",
            str(saved_model),
            "--data",
            str(table),
            "--label",
            "label",
            "--out",
            str(tmp_path / "run"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "pass the data set the model was trained on" in err


CHECK = """
<script>
window.addEventListener('load', () => {
  const seen = id => { const e = document.getElementById(id); if (!e) return false;
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
      && e.innerText.trim().length > 0; };
  const imgs = [...document.images].map(i => i.complete && i.naturalWidth > 0);
  const out = document.createElement('pre'); out.id = 'check';
  out.textContent = JSON.stringify({verdict: seen('verdict'), confusion: seen('confusion-dev'),
    recommendations: seen('recommendations'), images: imgs,
    verdict_text: document.getElementById('verdict').innerText});
  document.body.appendChild(out);
});
</script></body>"""


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "no chromium binary on PATH: install it with `apt-get install -y chromium` "
            "to run the browser check of the HTML report"
        )
    page = tmp_path / "check.html"
    page.write_text((report_dir / "report.html").read_text().replace("</body>", CHECK))
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1280,2400",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    found = re.search(r'<pre id="check">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"the page did not render: {dom.stderr[-500:]}"
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["verdict"] and check["confusion"] and check["recommendations"], check
    assert check["images"] and all(check["images"]), "an embedded plot failed to load"
    expected = json.loads((report_dir / "diagnosis.json").read_text())["verdict"]
    assert check["verdict_text"].strip() == expected
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", (report_dir / "report.html").as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_advice_for_a_table_names_commands_that_run_on_that_table(tmp_path, capsys):
    # issue 23: it advised `automl-kit evolve --dataset t ...`, which fails
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(120)]
    table = tmp_path / "t.csv"
    table.write_text("\n".join(rows) + "\n")
    model = dense_model(num_classes=2, input_shape=(2,))
    model.save(tmp_path / "m.keras")
    out = tmp_path / "run"
    argv = ["diagnose", "--model", str(tmp_path / "m.keras"), "--data", str(table)]
    assert main([*argv, "--label", "label", "--out", str(out), "--quiet"]) == 0
    advice = json.loads((out / "diagnosis.json").read_text())["recommendations"]
    commands = [r["command"] for r in advice if r["command"].startswith("automl-kit")]
    assert commands and all(f"--data {table.resolve()} --label label" in c for c in commands)
    assert not any("--dataset" in c for c in commands)
