"""The notebooks in a real browser: JupyterLab + headless Chromium driven by Playwright.

Run it alone (about a minute; see README "Testing in a real browser"):

    DQN_SMOKE=1 .venv/bin/pytest tests/test_browser.py -p no:xdist

What it checks, as a reader would see it:

* a widget cell runs, a control moved by the mouse changes what the cell shows;
* an animated GIF output plays in a notebook that is NOT trusted (JupyterLab strips
  scripts from untrusted outputs: that is why the series shows GIFs, not JavaScript).

Which cells: a notebook's widget cell carries the cell tag ``widget-demo`` (one per
notebook is enough; the test runs every cell above it first, in smoke mode, then the
cell itself). The animation is any stored ``image/gif`` output. Besides the series'
notebooks the test builds a small fixture notebook with both, so the machinery is
tested even before the notebooks have their widgets.

Needs Debian's ``chromium`` (``apt-get install chromium``) and ``playwright`` from PyPI
(``pip install -e .[browser]``); without them the test is skipped, unless
``DQN_REQUIRE_BROWSER=1`` (set in CI) turns the skip into a failure. On failure a
screenshot goes to ``tests/screenshots/`` (``DQN_BROWSER_SCREENSHOTS=1``: always).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "tests" / ".browser"  # git-ignored; a dot folder is not collected by pytest
SCREENSHOTS = ROOT / "tests" / "screenshots"  # git-ignored
WIDGET_TAG = "widget-demo"
LIVE_TAG = "live-demo"
CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
SERIES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# One JupyterLab and one browser for the whole module: with `pytest -n 2 --dist loadgroup`
# all its tests go to the same worker (plain `-n 2` may start a second server).
pytestmark = pytest.mark.xdist_group("browser")


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e .[browser])"
    if _chromium() is None:
        return "no chromium executable (apt-get install chromium)"
    return None


def _chromium() -> str | None:
    found = os.environ.get("DQN_CHROMIUM") or next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None)
    return found or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    reason = _missing_browser()
    if reason:
        if os.environ.get("DQN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"DQN_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI runs as root; --disable-dev-shm-usage: containers have a tiny /dev/shm.
        chromium = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """A JupyterLab server on a free local port, rooted at the repository, with fresh settings."""
    home = tmp_path_factory.mktemp("jupyter")
    for plugin, values in [
        # Render every cell (no virtual scrolling): the n-th cell in the page is the n-th in the file.
        ("notebook-extension/tracker", {"windowingMode": "none"}),
        # Never write the notebooks the test runs back to disk.
        ("docmanager-extension/plugin", {"autosave": False}),
        ("apputils-extension/notification", {"fetchNews": "false"}),  # no pop-up over the page
    ]:
        settings = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # kernels draw inline
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),  # fresh trust database
        JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), DQN_SMOKE="1", SDL_VIDEODRIVER="dummy",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(home / "lab.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.root_dir={ROOT}", "--IdentityProvider.token=", "--ServerApp.password=",
         "--ContentsManager.allow_hidden=True", "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (home / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield url
    try:
        urllib.request.urlopen(urllib.request.Request(f"{url}/api/shutdown", method="POST"), timeout=10)
        server.wait(timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        server.kill()
    log.close()


@pytest.fixture
def page(browser, lab, request):
    """A fresh browser tab; a screenshot of it lands in tests/screenshots/ if the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    failures_before = request.session.testsfailed
    yield page
    # The test's own report is logged before its teardown: a higher count means it failed.
    if request.session.testsfailed > failures_before or os.environ.get("DQN_BROWSER_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "-").rstrip("]")
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    context.close()


# --- the fixture notebook --------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_notebook() -> Path:
    """A notebook with a widget cell and a stored GIF output, written as an untrusted file."""
    from dqn_helpers.animation import agent_gif

    def lean_rule(obs):
        return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(int)

    gif = agent_gif([lambda obs: obs[:, 0].astype(int) * 0, lean_rule], seed=0, titles=["always left", "lean rule"],
                    n_steps=120, frame_every=3)
    nb = nbformat.v4.new_notebook()
    widget = nbformat.v4.new_code_cell(
        "import ipywidgets as widgets\n"
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n\n\n"
        "def discounting(gamma=0.9):\n"
        "    steps = np.arange(60)\n"
        "    plt.figure(figsize=(4, 2.5))\n"
        "    plt.plot(steps, gamma ** steps)\n"
        "    plt.title(f'weight of a reward t steps ahead, gamma = {gamma:.2f}')\n"
        "    plt.show()\n\n\n"
        "widgets.interact(discounting, gamma=widgets.FloatSlider(value=0.9, min=0.5, max=0.99, step=0.01));"
    )
    widget.metadata["tags"] = [WIDGET_TAG]
    animation = nbformat.v4.new_code_cell(
        "agent_gif([always_left, lean_rule], seed=0, titles=['always left', 'lean rule'], n_steps=120)",
        execution_count=2,
        outputs=[nbformat.v4.new_output("execute_result", data=gif._repr_mimebundle_(), execution_count=2)],
    )
    script = nbformat.v4.new_code_cell(
        "HTML('<b id=\"dqn-html\">html kept</b><script>window.dqnScriptRan = true</script>')",
        execution_count=3,
        outputs=[nbformat.v4.new_output("execute_result", execution_count=3, data={
            "text/html": '<b id="dqn-html">html kept</b><script>window.dqnScriptRan = true</script>',
            "text/plain": "<IPython.core.display.HTML object>"})],
    )
    live = nbformat.v4.new_code_cell(
        "from dqn_helpers import DQNConfig, train\n"
        "from dqn_helpers.live import LiveTrainingView\n\n"
        "config = DQNConfig(total_steps=4_000, num_envs=4, eval_every=1_000, eval_episodes=3, hidden_sizes=(32, 32))\n"
        "result = train(config, live=LiveTrainingView(min_interval=0.2, overhead=0.5))"
    )
    live.metadata["tags"] = [LIVE_TAG]
    nb.cells = [nbformat.v4.new_markdown_cell("# Browser-test fixture"), widget, animation, script, live]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    FIXTURE_DIR.mkdir(exist_ok=True)
    path = FIXTURE_DIR / "fixture.ipynb"
    nbformat.write(nb, path)  # unsigned: JupyterLab treats it as untrusted
    return path


# --- talking to JupyterLab ---------------------------------------------------------------

def _open(page, lab: str, path: Path):
    relative = path.relative_to(ROOT).as_posix()
    # ?reset: JupyterLab would otherwise restore the workspace of the previous test, and its
    # notebook could be the current widget instead of this one.
    page.goto(f"{lab}/lab/tree/{relative}?reset")
    page.wait_for_function("(relative) => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.context"
                           " && window.jupyterapp.shell.currentWidget.context.path === relative"
                           " && window.jupyterapp.shell.currentWidget.content.widgets.length > 0", arg=relative)
    page.evaluate("""async () => {
        const panel = window.jupyterapp.shell.currentWidget;
        await panel.context.ready;
        await panel.sessionContext.ready;
    }""")
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")


def _run_up_to(page, index: int) -> list[dict]:
    """Run every cell above cell ``index`` and then the cell itself; return error outputs."""
    return page.evaluate("""async (index) => {
        const app = window.jupyterapp, panel = app.shell.currentWidget, notebook = panel.content;
        notebook.activeCellIndex = index;
        if (index > 0) await app.commands.execute('notebook:run-all-above');
        notebook.activeCellIndex = index;
        await app.commands.execute('notebook:run-cell');
        const errors = [];
        notebook.widgets.slice(0, index + 1).forEach((cell, i) => {
            const outputs = cell.model.outputs;
            if (!outputs) return;
            for (let k = 0; k < outputs.length; k++) {
                const out = outputs.get(k).toJSON();
                if (out.output_type === 'error') errors.push({cell: i, ename: out.ename, evalue: out.evalue});
            }
        });
        return errors;
    }""", index)


SIGNATURE_JS = """(cell) => {
    // A fingerprint of what the cell shows: images (inline PNGs, ipympl canvases), text,
    // HTML and SVG, without the controls' own state (slider read-outs, input values).
    const hash = (text) => {
        let h = 2166136261;
        for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
        return (h >>> 0).toString(16) + ':' + text.length;
    };
    const area = cell.querySelector('.jp-Cell-outputWrapper');
    if (!area) return '';
    const parts = [];
    area.querySelectorAll('img').forEach(img => parts.push(hash(img.src)));
    area.querySelectorAll('canvas').forEach(canvas => {
        try { parts.push(hash(canvas.toDataURL())); } catch (e) { parts.push('canvas'); }
    });
    area.querySelectorAll('pre, .jp-RenderedHTMLCommon, .widget-html-content, svg').forEach(el => {
        if (!el.closest('.widget-readout')) parts.push(hash(el.textContent + el.innerHTML.length));
    });
    return parts.join('|');
}"""


def _move_a_control(page, cell) -> str:
    """Move the first control of the cell as a user would; return what was moved."""
    handle = cell.locator(".widget-slider .noUi-handle").first
    if handle.count():
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        track = cell.locator(".widget-slider .noUi-target").first.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        # Drag toward the far end of the track, a third of its length (never off its end).
        target = x + track["width"] / 3 if x < track["x"] + track["width"] / 2 else x - track["width"] / 3
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(target, y, steps=5)
        page.mouse.up()
        return "slider"
    select = cell.locator(".widget-dropdown select").first
    if select.count():
        options = select.locator("option").all_inner_texts()
        current = select.input_value()
        select.select_option(label=next(o for o in options if o != current))
        return "dropdown"
    for selector, kind in [(".widget-toggle-buttons button:not(.mod-active)", "toggle buttons"),
                           (".widget-checkbox input", "checkbox"), ("button.jupyter-button", "button")]:
        control = cell.locator(selector).first
        if control.count():
            control.click()
            return kind
    raise AssertionError("the widget-demo cell shows no slider, dropdown, toggle, checkbox or button")


def _check_widget(page, lab: str, path: Path, must_stay_unchanged: bool = True) -> None:
    index = next((i for i, c in enumerate(nbformat.read(path, as_version=4).cells)
                  if WIDGET_TAG in c.metadata.get("tags", [])), None)
    if index is None:
        pytest.skip(f"{path.name} has no cell tagged {WIDGET_TAG!r} yet")
    on_disk = path.read_bytes()
    cells = _open(page, lab, path)
    errors = _run_up_to(page, index)
    assert not errors, f"cells raised while running up to the widget cell: {errors}"
    cell = cells.nth(index)
    try:
        cell.locator(".jupyter-widgets").first.wait_for(state="visible", timeout=30_000)
    except Exception as err:
        raise AssertionError("the widget-demo cell shows no widget; is the ipywidgets JupyterLab extension "
                             "(jupyterlab_widgets) installed, and does the cell display a widget?") from err
    cell.scroll_into_view_if_needed()
    try:  # wait for the widget's first output, then for it to settle
        page.wait_for_function(f"(cell) => ({SIGNATURE_JS})(cell) !== ''", arg=cell.element_handle(), timeout=30_000)
    except Exception as err:
        raise AssertionError("the widget cell shows no output to compare (no image, text, table or canvas)") from err
    page.wait_for_timeout(500)
    before = cell.evaluate(SIGNATURE_JS)
    kind = _move_a_control(page, cell)
    start = time.monotonic()
    try:
        page.wait_for_function(f"([cell, before]) => ({SIGNATURE_JS})(cell) !== before",
                               arg=[cell.element_handle(), before], timeout=30_000)
    except Exception as err:
        raise AssertionError(f"moving the {kind} did not change the cell's output within 30 s") from err
    print(f"{path.name}: moving the {kind} redrew the output in {time.monotonic() - start:.2f} s")
    if must_stay_unchanged:  # the series' notebooks live in the repository: the test must never rewrite them
        assert path.read_bytes() == on_disk, "the test changed the notebook on disk (autosave should be off)"


def _check_gif_plays_untrusted(page, lab: str, path: Path) -> None:
    from PIL import Image

    _open(page, lab, path)
    gif = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) img[src^='data:image/gif']").first
    gif.wait_for(state="attached")
    gif.scroll_into_view_if_needed()
    trusted = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .filter(cell => cell.node.querySelector("img[src^='data:image/gif']"))
        .map(cell => cell.model.trusted)""")
    assert trusted and not any(trusted), f"the GIF's cell should be untrusted here, trusted = {trusted}"
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=gif.element_handle())
    width = gif.evaluate("img => img.naturalWidth")
    assert width >= 300, f"the animation is only {width} px wide"

    data = base64.b64decode(gif.get_attribute("src").split(",", 1)[1])
    n_frames = Image.open(io.BytesIO(data)).n_frames
    assert n_frames > 1, "the GIF has a single frame"
    shots = [gif.screenshot()]
    for _ in range(10):  # the picture on screen changes over time: it plays
        page.wait_for_timeout(300)
        shots.append(gif.screenshot())
        if shots[-1] != shots[0]:
            break
    assert shots[-1] != shots[0], f"{n_frames} frames stored, but the image on screen did not change in 3 s"


# --- the tests -----------------------------------------------------------------------------

def test_fixture_widget_responds_to_its_slider(page, lab, fixture_notebook):
    # The generated fixture is a scratch file (tests/.browser/); JupyterLab once rewrote it under
    # CI load, so only the repository's notebooks are held to "unchanged on disk".
    _check_widget(page, lab, fixture_notebook, must_stay_unchanged=False)


def test_fixture_gif_plays_untrusted_and_scripts_do_not_run(page, lab, fixture_notebook):
    _check_gif_plays_untrusted(page, lab, fixture_notebook)
    page.get_by_text("html kept", exact=True).wait_for()  # the HTML output itself is shown ...
    assert page.evaluate("() => window.dqnScriptRan === undefined"), "a script ran in an untrusted notebook"


def test_fixture_live_view_updates_one_image_in_place(page, lab, fixture_notebook):
    index = next(i for i, c in enumerate(nbformat.read(fixture_notebook, as_version=4).cells)
                 if LIVE_TAG in c.metadata.get("tags", []))
    cells = _open(page, lab, fixture_notebook)
    cell = cells.nth(index)
    cell.scroll_into_view_if_needed()
    done = page.evaluate_handle("""(index) => {
        const app = window.jupyterapp, notebook = app.shell.currentWidget.content;
        notebook.activeCellIndex = index;
        return {finished: false, run: app.commands.execute('notebook:run-cell')};
    }""", index)
    page.evaluate("(state) => { state.run.then(() => { state.finished = true; }); }", done)  # do not wait
    seen = set()
    while not done.evaluate("state => state.finished"):
        seen.update(cell.evaluate("cell => [...cell.querySelectorAll('.jp-OutputArea img')].map(i => i.src)"))
        page.wait_for_timeout(100)
    shown = cell.locator(".jp-OutputArea img")
    shown.last.scroll_into_view_if_needed()  # for the screenshot
    assert shown.count() == 1, f"the live view left {shown.count()} images; it should update one in place"
    seen.add(shown.get_attribute("src"))
    assert len(seen) >= 3, f"only {len(seen)} different pictures during the run: the figure did not update live"
    assert shown.evaluate("img => img.naturalWidth") > 500


@pytest.mark.parametrize("path", SERIES, ids=lambda p: p.stem)
def test_notebook_widget_responds_to_a_control(page, lab, path):
    _check_widget(page, lab, path)


def test_notebook_07_animation_plays_untrusted(page, lab):
    path = ROOT / "notebooks" / "07_all_together.ipynb"
    nb = nbformat.read(path, as_version=4)
    has_gif = any("image/gif" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
    if not has_gif and not any("agent_gif" in cell.source for cell in nb.cells):
        pytest.skip("notebook 07 does not use agent_gif yet")
    assert has_gif, "notebook 07 calls agent_gif but its stored outputs hold no image/gif (run `make notebooks`)"
    _check_gif_plays_untrusted(page, lab, path)
