// A new account's one-time password: shown once, in a dialog with a copy button and a warning, and
// forgotten by the page when the dialog closes.

import { infoDialog } from "./dialogs.js";
import { _ } from "./i18n.js";
import { el } from "./ui.js";

const T = {
  passwordTitle: _("Учётная запись создана"),
  passwordIntro: (name, login) =>
    _("%(name)s входит с логином «%(login)s» и временным паролем:", { name, login }),
  passwordLabel: _("Временный пароль"),
  passwordWarning: _(
    "Пароль показан один раз: после закрытия окна его нельзя будет посмотреть снова. Передайте его владельцу лично и не пересылайте в открытых чатах и письмах.",
  ),
  copy: _("Копировать"),
  copied: _("Пароль скопирован."),
  copyFailed: _("Не удалось скопировать: выделите пароль и скопируйте вручную."),
  done: _("Готово, пароль передан"),
};

async function copyText(input, status) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // Without a secure context there is no clipboard API; the old command still works on a selection.
    if (!document.execCommand("copy")) {
      status.textContent = T.copyFailed;
      return;
    }
  }
  status.textContent = T.copied;
}

/** Show a new account's one-time password, once, with a copy button; resolve when it is closed. */
export async function showOneTimePassword(account) {
  const input = el("input", {
    type: "text",
    readOnly: true,
    value: account.initial_password,
    id: "initial-password",
  });
  input.setAttribute("aria-label", T.passwordLabel);
  input.setAttribute("spellcheck", "false");
  input.addEventListener("focus", () => input.select());
  const status = el("p", { className: "muted", attrs: { role: "status" } });
  const copy = el("button", { type: "button", className: "secondary", textContent: T.copy });
  copy.addEventListener("click", () => copyText(input, status));
  await infoDialog({
    title: T.passwordTitle,
    content: [
      el("p", { textContent: T.passwordIntro(account.full_name, account.login) }),
      el("div", { className: "secret" }, input, copy),
      status,
      el("p", { className: "notice warning", textContent: T.passwordWarning }),
    ],
    closeLabel: T.done,
  });
  input.value = "";
}
