// Play and Pause over the 28 rows of a digit, in the browser.
//
// The charts of a row view are sent once, with every row's data; each carries a Vega-Lite
// parameter (its name in data.param) bound to a range input that this player hides and sets.
// A step costs the server nothing, so the pace is the browser's timer: each row is due at
// start + k * interval, and a late timer shows the next row at once instead of skipping one.
const ROWS = 28;

function chartInputs(param) {
  return document.querySelectorAll(`[data-testid="stVegaLiteChart"] input[name="${param}"]`);
}

function syncCharts(player) {
  for (const input of chartInputs(player.data.param)) {
    const form = input.closest("form.vega-bindings");
    if (form) form.style.display = "none"; // the player's own slider stands for them all
    if (Number(input.value) !== player.row) {
      input.value = String(player.row);
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }
}

function show(player, row) {
  player.row = row;
  const { root, data } = player;
  root.dataset.row = String(row);
  root.querySelector(".rp-slider").value = String(row);
  root.querySelector(".rp-value").textContent = String(row);
  root.querySelector(".rp-text").innerHTML = data.texts[row - 1] ?? "";
  root.querySelector(".rp-label-text").textContent = data.label; // a new window of steps names its own
  syncCharts(player);
}

function setPlaying(player, playing) {
  player.playing = playing;
  clearTimeout(player.timer);
  const button = player.root.querySelector(".rp-button");
  button.textContent = playing ? "❚❚ Pause" : "▶ Play";
  button.setAttribute("aria-label", playing ? "Pause" : "Play");
  player.root.dataset.playing = playing ? "yes" : "no";
  if (!playing) return;
  // at the last row Play starts over: row 1 is shown one interval after the click
  const from = player.row >= ROWS ? 0 : player.row;
  const started = performance.now();
  const interval = Number(player.root.querySelector(".rp-speed").value) * 1000;
  const step = (k) => {
    const due = started + k * interval;
    player.timer = setTimeout(() => {
      show(player, from + k);
      if (from + k >= ROWS) setPlaying(player, false);
      else step(k + 1);
    }, Math.max(0, due - performance.now()));
  };
  step(1);
}

const TEMPLATE = `
  <div class="rp-controls">
    <button type="button" class="rp-button"></button>
    <label class="rp-label"><span class="rp-label-text"></span>
      <span class="rp-line"><input class="rp-slider" type="range" min="1" max="${ROWS}" step="1">
      <output class="rp-value"></output></span></label>
    <select class="rp-speed" aria-label="Pace of Play"></select>
  </div>
  <div class="rp-text" aria-live="off"></div>`;

function build(parentElement, data) {
  parentElement.querySelector(".rp")?.remove();
  const root = document.createElement("div");
  root.className = "rp";
  root.innerHTML = TEMPLATE;
  parentElement.appendChild(root);
  root.querySelector(".rp-label-text").textContent = data.label;
  const speed = root.querySelector(".rp-speed");
  for (const seconds of data.speeds) {
    const option = document.createElement("option");
    option.value = String(seconds);
    option.textContent = `${seconds} s a ${data.unit}`;
    option.selected = seconds === data.interval;
    speed.appendChild(option);
  }
  const player = { root, data, row: data.start, playing: false, timer: null };
  setPlaying(player, false);
  root.querySelector(".rp-button").addEventListener("click", () => setPlaying(player, !player.playing));
  root.querySelector(".rp-slider").addEventListener("input", (event) => {
    setPlaying(player, false);
    show(player, Number(event.target.value));
  });
  // charts drawn after the player (or drawn again) start at their spec's row: bring them here
  player.watch = setInterval(() => syncCharts(player), 250);
  return player;
}

export default function (component) {
  const { parentElement, data } = component;
  let player = parentElement.rowPlayer;
  if (!player) {
    player = parentElement.rowPlayer = build(parentElement, data);
    show(player, data.start);
  } else {
    player.data = data; // a new image: same row, new texts and charts
    show(player, player.row);
  }
  return () => {
    clearTimeout(player.timer);
    clearInterval(player.watch);
    delete parentElement.rowPlayer;
  };
}
