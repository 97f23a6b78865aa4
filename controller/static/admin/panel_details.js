// One panel's dialog on the registry page (panels.js opens it with «Подробнее»): the panel's facts,
// its last remote actions, and the buttons the user's powers allow: the remote commands (show the
// name, screenshot, restart the player, reboot, resend the state), move, replace, revoke and
// decommission, each asking first where it must (the API checks each power again). What a button did
// is told inside the dialog; the page gives its notices, its powers and how to read its list again.

import { ApiError, get, write } from "./api.js";
import { confirmDialog, formDialog, infoDialog } from "./dialogs.js";
import { _ } from "./i18n.js";
import {
  T as VALUE,
  ago,
  diskText,
  oneDecimal,
  refusedText,
  screenText,
  statusBadge,
  timeCell,
  undervoltageText,
  when,
  yesNo,
} from "./panel_values.js";
import { el, may } from "./ui.js";

const T = {
  facts: {
    school: _("Школа"),
    room: _("Кабинет"),
    model: _("Модель"),
    serial: _("Серийный номер"),
    mac: _("MAC-адрес"),
    os: _("Операционная система"),
    player_version: _("Версия плеера"),
    agent_version: _("Версия агента"),
    paired_at: _("Подключена"),
    last_seen_at: _("Последняя связь"),
    last_address: _("Последний адрес"),
    temperature_c: _("Температура"),
    disk: _("Свободно на диске"),
    undervoltage: _("Пониженное напряжение"),
    display_connected: _("Дисплей подключён"),
    screen: _("Экран"),
    clone_seen_at: _("Второе устройство замечено"),
    refused: _("Попыток связи после отзыва"),
    replaced_by: _("Заменена панелью"),
  },
  manage: _("Управление"),
  history: _("Последние действия"),
  noHistory: _("Действий с панелью ещё не было."),
  when: _("Когда"),
  action: _("Действие"),
  who: _("Кто"),
  answer: _("Ответ панели"),
  close: _("Закрыть"),
  actions: {
    identify: _("Показать имя на экране"),
    screenshot: _("Снимок экрана"),
    restart_player: _("Перезапустить плеер"),
    reboot: _("Перезагрузить"),
    resend_state: _("Отправить состояние заново"),
  },
  outcomes: {
    sent: _("отправлено, ответа нет"),
    ok: _("подтвердила"),
    failed: _("не смогла"),
    offline: _("не в сети"),
    no_answer: _("не ответила"),
  },
  said: {
    ok: _("Панель подтвердила."),
    offline: _("Панель не в сети: команда не доставлена."),
    no_answer: _("Панель не ответила."),
    failed: (message) => _("Панель ответила, что не смогла: %(message)s", { message }),
  },
  sending: _("Команда отправлена, ждём ответа панели…"),
  screenshotOf: (name) => _("Экран панели «%(name)s»", { name }),
  move: _("Переместить"),
  moveTitle: (name) => _("Переместить панель «%(name)s»", { name }),
  room: _("Кабинет"),
  moved: (name, room) => _("Панель «%(name)s» перемещена в кабинет «%(room)s».", { name, room }),
  replace: _("Заменить"),
  replaceTitle: (name) => _("Заменить панель «%(name)s»", { name }),
  code: _("Код с экрана новой панели"),
  codeHint: _(
    "8 знаков. Новая панель займёт кабинет и имя этой, а эта будет списана; её история сохранится.",
  ),
  replaced: (name, id) => _("Панель «%(name)s» заменена новой (№ %(id)s).", { name, id }),
  revoke: _("Отозвать"),
  revokeTitle: (name) => _("Отозвать панель «%(name)s»?", { name }),
  revokeText: _(
    "Ключи панели будут удалены, связь с ней прервётся сразу. Устройство вернётся к экрану подключения; чтобы снова им пользоваться, подключите его заново.",
  ),
  revoked: (name) => _("Панель «%(name)s» отозвана.", { name }),
  decommission: _("Списать"),
  decommissionTitle: (name) => _("Списать панель «%(name)s»?", { name }),
  decommissionText: _(
    "Панель навсегда уйдёт из учёта: её ключи будут удалены, в статистике она больше не считается. Её история сохранится.",
  ),
  decommissioned: (name) => _("Панель «%(name)s» списана.", { name }),
  rebootTitle: (name) => _("Перезагрузить панель «%(name)s»?", { name }),
  rebootText: _("Экран погаснет примерно на минуту; то, что сейчас показывается в кабинете, прервётся."),
  noRooms: _("В школе нет кабинетов: добавьте кабинет в реестре."),
};

function factValue(panel, key) {
  switch (key) {
    case "paired_at":
    case "clone_seen_at":
      return when(panel[key]);
    case "last_seen_at":
      return panel.last_seen_at ? `${when(panel.last_seen_at)} (${ago(panel.last_seen_at)})` : VALUE.never;
    case "temperature_c":
      return panel.temperature_c === null ? "" : VALUE.celsius(oneDecimal.format(panel.temperature_c));
    case "disk":
      return diskText(panel);
    case "undervoltage":
      return undervoltageText(panel);
    case "display_connected":
      return yesNo(panel.display_connected);
    case "screen":
      return panel.screen_at ? `${screenText(panel)} (${ago(panel.screen_at)})` : "";
    case "refused":
      return refusedText(panel);
    case "replaced_by":
      return panel.replaced_by ? `№ ${panel.replaced_by}` : "";
    default:
      return panel[key] ?? "";
  }
}

function factsList(panel) {
  const dl = el("dl", { className: "facts" });
  for (const [key, label] of Object.entries(T.facts)) {
    const value = factValue(panel, key);
    if (value === "") continue;
    dl.append(el("dt", { textContent: label }), el("dd", { dataset: { fact: key }, textContent: value }));
  }
  return dl;
}

function historyTable(actions) {
  if (!actions.length) return el("p", { className: "muted", textContent: T.noHistory });
  const head = el(
    "tr",
    {},
    [T.when, T.action, T.who, T.answer].map((label) => el("th", { scope: "col", textContent: label })),
  );
  const rows = actions.map((action) =>
    el(
      "tr",
      {},
      el("td", {}, timeCell(action.requested_at, when(action.requested_at))),
      el("td", { textContent: T.actions[action.action] || action.action }),
      el("td", { textContent: action.user_name || action.user_login || "" }),
      el("td", { textContent: T.outcomes[action.outcome] || action.outcome }),
    ),
  );
  return el("table", { className: "history" }, el("thead", {}, head), el("tbody", {}, rows));
}

function button(label, handler, className = "small secondary") {
  const node = el("button", { type: "button", className, textContent: label });
  node.addEventListener("click", handler);
  return node;
}

/** Return the buttons `powers` allow the user to press for `panel`, each calling `run(kind, …)`. */
function manageButtons(panel, powers, run) {
  const buttons = [];
  const active = panel.state === "active";
  if (may(powers, "panel", "command") && active) {
    for (const action of Object.keys(T.actions)) {
      buttons.push(button(T.actions[action], () => run("command", action)));
    }
  }
  if (may(powers, "panel", "update") && panel.state !== "decommissioned") {
    buttons.push(button(T.move, () => run("move")));
    if (["active", "pending", "revoked"].includes(panel.state) && panel.room_id) {
      buttons.push(button(T.replace, () => run("replace")));
    }
  }
  if (may(powers, "panel", "archive")) {
    if (panel.state === "active" || panel.state === "pending") {
      buttons.push(button(T.revoke, () => run("revoke"), "small danger"));
    }
    if (panel.state !== "decommissioned") {
      buttons.push(button(T.decommission, () => run("decommission"), "small danger"));
    }
  }
  return buttons;
}

/**
 * Open the dialog of the panel `panelId`: its facts, its last actions and the buttons `powers` allow.
 * A panel that cannot be read is told in `notices`; after each action the dialog reads the panel
 * again and calls `reload(panelId)`, which reads the page's list again.
 */
export async function openDetails(panelId, { powers, notices, reload }) {
  let panel;
  try {
    panel = await get(`/api/panels/${panelId}`);
  } catch (exc) {
    notices.error(exc);
    return;
  }
  const titleId = `panel-details-${panelId}`;
  const dialog = el("dialog", { className: "panel-dialog panel-details", attrs: { "aria-labelledby": titleId } });
  const body = el("div", { className: "details-body" });
  const said = el("p", { className: "action-result", hidden: true, attrs: { role: "status" } });
  const close = el("form", { method: "dialog" }, el("div", { className: "dialog-buttons" }, el("button", { textContent: T.close })));
  dialog.append(el("h2", { id: titleId, textContent: panel.name }), said, body, close);
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());

  const render = () => {
    const buttons = manageButtons(panel, powers, run);
    const parts = [el("p", {}, statusBadge(panel.status))];
    if (panel.clone) parts.push(el("p", { className: "notice warning", textContent: VALUE.cloneHint }));
    parts.push(factsList(panel));
    if (buttons.length) {
      parts.push(el("h3", { textContent: T.manage }), el("div", { className: "row-buttons manage" }, buttons));
    }
    parts.push(el("h3", { textContent: T.history }), historyTable(panel.actions));
    body.replaceChildren(...parts);
  };
  const tell = (text, kind = "ok") => {
    said.textContent = text;
    said.className = `action-result notice ${kind}`;
    said.hidden = false;
  };
  const refresh = async () => {
    panel = await get(`/api/panels/${panelId}`);
    render();
    await reload(panelId);
  };
  async function run(kind, action) {
    const buttons = body.querySelectorAll(".manage button");
    for (const node of buttons) node.disabled = true;
    try {
      const outcome = await ACTIONS[kind](panel, action, tell);
      if (outcome) tell(outcome.text, outcome.kind || "ok");
      await refresh();
    } catch (exc) {
      tell(exc.message || String(exc), "error");
      for (const node of buttons) node.disabled = false;
    }
  }
  render();
  dialog.showModal();
}

// --- what each button does: resolve with what to tell ({text, kind}), or null if cancelled ------

const ACTIONS = {
  async command(panel, action, tell) {
    if (action === "reboot") {
      const sure = await confirmDialog({
        title: T.rebootTitle(panel.name),
        text: T.rebootText,
        confirmLabel: T.actions.reboot,
      });
      if (!sure) return null;
    }
    tell(T.sending, "info");
    const answer = await write("POST", `/api/panels/${panel.id}/actions/${action}`);
    const said = answer.outcome === "failed" ? T.said.failed(answer.message || "") : T.said[answer.outcome];
    if (action === "screenshot" && answer.image) {
      const image = el("img", { src: answer.image, alt: T.screenshotOf(panel.name), className: "screenshot" });
      infoDialog({ title: T.screenshotOf(panel.name), content: [image] });
    }
    return { text: said || answer.message, kind: answer.outcome === "ok" ? "ok" : "error" };
  },

  async move(panel) {
    const rooms = (await get("/api/rooms", { school_id: panel.school_id })).rooms;
    if (!rooms.length) throw new ApiError(0, { message: T.noRooms });
    const options = rooms.map((room) => ({ value: room.id, label: room.name }));
    const moved = await formDialog({
      title: T.moveTitle(panel.name),
      fields: [{ name: "room_id", label: T.room, type: "select", options, required: true }],
      values: { room_id: panel.room_id ?? "" },
      submitLabel: T.move,
      submit: (values) => write("POST", `/api/panels/${panel.id}/move`, { room_id: Number(values.room_id) }),
    });
    if (!moved) return null;
    const room = rooms.find((r) => r.id === moved.room_id);
    return { text: T.moved(panel.name, room ? room.name : moved.room_id) };
  },

  async replace(panel) {
    const replaced = await formDialog({
      title: T.replaceTitle(panel.name),
      fields: [{ name: "code", label: T.code, hint: T.codeHint, required: true, maxlength: 12 }],
      submitLabel: T.replace,
      submit: (values) =>
        write("POST", `/api/panels/${panel.id}/replace`, {
          code: values.code.replace(/[\s-]/g, "").toUpperCase(),
        }),
    });
    return replaced ? { text: T.replaced(panel.name, replaced.id) } : null;
  },

  async revoke(panel) {
    const sure = await confirmDialog({
      title: T.revokeTitle(panel.name),
      text: T.revokeText,
      confirmLabel: T.revoke,
    });
    if (!sure) return null;
    await write("POST", `/api/panels/${panel.id}/revoke`);
    return { text: T.revoked(panel.name) };
  },

  async decommission(panel) {
    const sure = await confirmDialog({
      title: T.decommissionTitle(panel.name),
      text: T.decommissionText,
      confirmLabel: T.decommission,
    });
    if (!sure) return null;
    await write("POST", `/api/panels/${panel.id}/decommission`);
    return { text: T.decommissioned(panel.name) };
  },
};
