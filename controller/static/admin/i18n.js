// Messages in the page's language. The source text is Russian and is the key; the page carries the
// translations of the scripts' messages for its language as JSON in <script id="i18n-catalogue">
// (data, not code, so the CSP allows it). Placeholders are gettext's: _("Строк: %(n)s", { n: 5 }).

const catalogue = JSON.parse(document.getElementById("i18n-catalogue")?.textContent || "{}");

export function _(message, values = {}) {
  const text = catalogue[message] || message;
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
