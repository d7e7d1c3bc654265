// Weighted lengths by the official twitter-text package: one process for a whole corpus.
// stdin: a JSON array of strings; stdout: a JSON array of {weightedLength, valid}.
"use strict";
const path = require("path");
const twitter = require(path.join(process.env.TWITTER_TEXT_DIR, "node_modules", "twitter-text"));

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const texts = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const results = texts.map((text) => {
    const parsed = twitter.parseTweet(text);
    return { weightedLength: parsed.weightedLength, valid: parsed.valid };
  });
  process.stdout.write(JSON.stringify(results));
});
