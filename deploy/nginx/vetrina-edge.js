// Vetrina's media tokens, checked at the edge (njs), so a segment is served from the cache without asking the
// origin. The same rules as src/vetrina/storage/signing.py: a token is
//   {expires}.{depth}.{territory}.{covers}.{signature}
// over the key's first `depth` parts (the scope); `covers` says what inside the scope it unlocks (f: the one file,
// h: an HLS rendition set, t: the seek thumbnails); the signature is the first 32 hex digits of
// HMAC-SHA256(secret, "{expires}:{scope}:{territory}:{covers}:{name, or covers for a set}").
var crypto = require("crypto");

var SET_FILES = {
  h: /^(master\.m3u8|[A-Za-z0-9_-]+\/(index\.m3u8|seg_[0-9]+\.(ts|m4s|aac)|init\.mp4|[A-Za-z0-9_-]+\.key))$/,
  t: /^thumbs\/(thumbs\.vtt|thumb_[0-9]+\.jpg)$/,
};

function keyParts(key) {
  if (key.indexOf("\\") >= 0 || key.indexOf("\0") >= 0) return null;
  var parts = key.split("/");
  for (var i = 0; i < parts.length; i++) {
    if (parts[i] === "" || parts[i] === "." || parts[i] === "..") return null;
  }
  return parts;
}

function sameText(a, b) {
  if (a.length !== b.length) return false;
  var diff = 0;
  for (var i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// "ok", "forbidden" (forged, malformed, expired, not covering the key) or "elsewhere" (bound to another territory).
function verdict(r) {
  var secret = process.env.VETRINA_SECRET_KEY || "";
  var token = r.variables.media_token || "";
  var key = r.variables.media_key || "";
  var fields = token.split(".");
  var parts = keyParts(key);
  if (!secret || fields.length !== 5 || parts === null) return "forbidden";
  var expires = Number(fields[0]), depth = Number(fields[1]), territory = fields[2], covers = fields[3];
  if (!/^[0-9]+$/.test(fields[0]) || !/^[0-9]+$/.test(fields[1])) return "forbidden";
  if (covers !== "f" && covers !== "h" && covers !== "t") return "forbidden";
  if (depth < 1 || depth >= parts.length || expires <= Date.now() / 1000) return "forbidden";
  var scope = parts.slice(0, depth).join("/"), name = parts.slice(depth).join("/");
  if (covers !== "f" && !SET_FILES[covers].test(name)) return "forbidden";
  territory = territory === "-" ? "" : territory;
  var message = fields[0] + ":" + scope + ":" + territory + ":" + covers + ":" + (covers === "f" ? name : covers);
  var expected = crypto.createHmac("sha256", secret).update(message).digest("hex").slice(0, 32);
  if (!sameText(expected, fields[4])) return "forbidden";
  if (territory && territory !== (r.variables.vetrina_country || "")) return "elsewhere";
  return "ok";
}

export default { verdict };
