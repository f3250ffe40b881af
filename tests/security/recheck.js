// Reads a JSON list of regex sources on stdin; prints, for each, recheck's verdict on it as a
// case-insensitive pattern: [source, status, complexity]. tests/security/test_redos.py runs it.
const { checkSync } = require("recheck");

const sources = JSON.parse(require("fs").readFileSync(0, "utf8"));
const verdicts = sources.map((source) => {
  const found = checkSync(source, "i", { checker: "automaton", timeout: 10000 });
  return [source, found.status, found.complexity ? found.complexity.type : null];
});
process.stdout.write(JSON.stringify(verdicts));
