// t("Add to cart"), t("{count} in cart", {count: 2}): a script's text in the page's language. The page hands over
// its translations as JSON (templates/_texts.html); the English is the key, and shown when a text has none.
"use strict";

const VETRINA_TEXTS = (() => {
  const holder = document.getElementById("vetrina-texts");
  try { return holder ? JSON.parse(holder.textContent) : {}; } catch (_) { return {}; }
})();
const VETRINA_LANGUAGE = document.querySelector('meta[name="vetrina-language"]')?.content || "en";

function t(text, params) {
  const translated = VETRINA_TEXTS[text] || text;
  if (!params) return translated;
  return translated.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// The page's language as Intl knows it: Chinese in simplified characters, as in mainland China.
const VETRINA_LOCALE = VETRINA_LANGUAGE === "zh" ? "zh-CN" : VETRINA_LANGUAGE;

// Money {amount (minor units), currency} for people, in the page's language ("€59.00", "59,00 €", "¥59.00").
function moneyText(money) {
  const format = new Intl.NumberFormat(VETRINA_LOCALE, { style: "currency", currency: money.currency });
  return format.format(money.amount / 10 ** format.resolvedOptions().maximumFractionDigits);
}
