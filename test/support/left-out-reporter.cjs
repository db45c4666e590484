// Lists, at the end of `npm test`, every suite that was left out because a server it needs is
// not configured (see test/support/env.ts), so a green run never hides what it did not test.
class LeftOutReporter {
  constructor() {
    this.leftOut = new Set();
  }
  onTestResult(_test, result) {
    for (const t of result.testResults) {
      for (const title of t.ancestorTitles) if (title.includes('[left out:')) this.leftOut.add(title);
    }
  }
  onRunComplete() {
    if (this.leftOut.size === 0) {
      process.stdout.write('\nAll suites ran: none was left out.\n');
      return;
    }
    process.stdout.write(`\nLEFT OUT (${this.leftOut.size} suites; set the variables to run them):\n`);
    for (const title of this.leftOut) process.stdout.write(`  - ${title}\n`);
  }
}
module.exports = LeftOutReporter;
