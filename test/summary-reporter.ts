import type { Reporter, TestModule } from "vitest/node";

/** Ends the run with a plain "N passed, N failed" line, which CI systems read without knowing vitest. */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const tests = testModules.flatMap((module) => [...module.children.allTests()]);
    const count = (state: string) => tests.filter((test) => test.result().state === state).length;
    console.log(`\n${count("passed")} passed, ${count("failed")} failed`);
  }
}
