// mocha's spec reporter, plus a JSON file of the counts (for the total line of `npm test`).
// The file goes to $GPT_LAB_TEST_SUMMARY when set.
const fs = require('node:fs');
const path = require('node:path');
const Mocha = require('mocha');

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const file = process.env.GPT_LAB_TEST_SUMMARY;
      if (!file) return;
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const { passes, failures, pending, tests } = this.stats;
      fs.writeFileSync(file, JSON.stringify({ passes, failures, pending, tests }) + '\n');
    });
  }
}
module.exports = SpecWithSummary;
