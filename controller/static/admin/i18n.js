// Messages in the page's language. The source text is Russian and is the key; the page carries the
// translations of the scripts' messages for its language as JSON in <script id="i18n-catalogue">
// (data, not code, so the CSP allows it; controller/i18n.py fills it, and it is empty in Russian).
// Placeholders are gettext's: _("Строк: %(n)s", { n: 5 }). `make messages` finds each _("…") call,
// so the message must be one plain string literal, never a template literal or a variable.

const catalogue = JSON.parse(document.getElementById("i18n-catalogue")?.textContent || "{}");

export function _(message, values = {}) {
  const text = catalogue[message] || message;
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
