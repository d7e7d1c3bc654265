// Prints, as JSON, the regular expressions distributor/rendering/twitter_data.py is generated
// from: twitter-text's composed URL extractor and twemoji-parser's emoji pattern, exactly as
// the official package builds them at load time. Run by `python -m tests.peers.twitter_text
// --export` (see distributor/rendering/twitter_data.py for when to do that).
"use strict";
const path = require("path");
const modules = path.join(process.env.TWITTER_TEXT_DIR, "node_modules");
const regexp = (name) => require(path.join(modules, "twitter-text", "dist", "regexp", name));
const pattern = (re) => ({ source: re.source, flags: re.flags });
const packageVersion = (name) => require(path.join(modules, name, "package.json")).version;

process.stdout.write(
  JSON.stringify({
    versions: {
      "twitter-text": packageVersion("twitter-text"),
      "twemoji-parser": packageVersion("twemoji-parser"),
    },
    config: require(path.join(modules, "twitter-text")).configs.version3,
    patterns: {
      EXTRACT_URL: pattern(regexp("extractUrl")),
      VALID_ASCII_DOMAIN: pattern(regexp("validAsciiDomain")),
      INVALID_URL_WITHOUT_PROTOCOL_PRECEDING_CHARS: pattern(
        regexp("invalidUrlWithoutProtocolPrecedingChars"),
      ),
      VALID_TCO_URL: pattern(regexp("validTcoUrl")),
      INVALID_CHARS: pattern(regexp("invalidChars")),
      EMOJI: pattern(require(path.join(modules, "twemoji-parser", "dist", "lib", "regex")).default),
    },
  }),
);
