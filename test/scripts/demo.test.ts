import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * `npm run demo` is one of the README's two commands: it must run to its closing table. This runs the
 * script as the npm script does (hardhat run, the project's Node), and checks the story's outcome.
 */
describe("npm run demo (scripts/demo.ts)", function () {
  it("tells the whole story: consent, allocations, readings over MQTT, a quarantined member readmitted, a proven clone, a member's share paid, a machine account's channel and its cloned key stopped", async function () {
    this.timeout(180_000);
    const { stdout } = await run(
      process.execPath,
      ["node_modules/hardhat/dist/src/cli.js", "run", "scripts/demo.ts"],
      { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, FORCE_COLOR: "0" } },
    );
    assert.match(stdout, /latestRoundData → round \d+: 21\.\d\d °C \(median of 7 fresh readings\)/);
    // A hostile member is quarantined; the feed keeps committing rounds from the others, then readmits it.
    assert.match(
      stdout,
      /MemberQuarantined\(sensor-4, TooFrequent, reading #\d+ = \d+\.\d\d °C\): .*the breaker stays armed \(tripReason None\)/,
    );
    const rounds = [
      /the feed keeps committing rounds from the other 6: latestRoundData → round (\d+): 21\.\d\d °C \(median of 6 fresh readings\)/,
      /latestRoundData → round (\d+): 21\.\d\d °C \(median of 7 fresh readings\): sensor-4 counts again/,
    ].map((re) => Number(re.exec(stdout)?.[1]));
    assert.ok(rounds[0] !== undefined && rounds[1] !== undefined);
    assert.ok(rounds[1] > rounds[0] && rounds[0] > 1, `round ids ${rounds.join(", ")}`);
    assert.match(
      stdout,
      /readmit at once → DeviceFeedCoolingOff\(.*readmit after \d+ \(.*\), or ask a guardian/,
    );
    assert.match(stdout, /1 h later the integrator readmits it/);
    const earlier =
      /getRoundData\(\d+\) → (21\.\d\d °C), committed .*, as read before the quarantine \((21\.\d\d °C)\)/.exec(
        stdout,
      );
    assert.ok(earlier !== null, "getRoundData of the round before the quarantine");
    assert.equal(earlier[1], earlier[2], "a committed round never changes");
    assert.match(
      stdout,
      /incident 0x[0-9a-f]{8}…[0-9a-f]{4}: Equivocation; slashed 100\.00 USD; sensor-\d is Suspended/,
    );
    assert.match(stdout, /membership needs each device.s operator.s consent.*7 joined at once/);
    assert.match(stdout, /allocates each sensor's 100\.00 USD stake to the pool for this feed/);
    assert.match(stdout, /after the pool's 1 h waiting period/);
    assert.match(stdout, /both dated .*, inside the policy's term/);
    // Booked in the proof's transaction: the sensor's share of the policy as a liability.
    assert.match(
      stdout,
      /in the proof's own transaction the pool, paid 90\.00 USD as the allocation's backer .*reserved sensor-\d's exposure, 37\.50 USD, as a liability/,
    );
    // One proven member of 7 pays its share: 1/k of the policy, k = 4.
    assert.match(
      stdout,
      /pays the integrator 37\.50 USD on policy #0: sensor-\d's share, 1\/4 of the policy/,
    );
    assert.match(stdout, /watchtower\s+0\.00 USD\s+10\.00 USD\s+\+10\.00 USD/);
    assert.match(
      stdout,
      /operator \(wallet \+ stake\)\s+10000\.00 USD\s+9900\.00 USD\s+-100\.00 USD/,
    );
    // The integrator got the share less its premium; what the operator lost is all accounted for.
    const change = (party: string): number => {
      const row = new RegExp(`^${party}\\s.*\\s([+-]\\d+\\.\\d\\d) USD$`, "m").exec(stdout);
      assert.ok(row?.[1] !== undefined, `no row for ${party}`);
      return Number(row[1]);
    };
    const total = [
      "operator \\(wallet \\+ stake\\)",
      "watchtower",
      "integrator",
      "insurer A \\(wallet \\+ shares\\)",
      "insurer B \\(wallet \\+ shares\\)",
      "pool \\(unearned: premium, recovery\\)",
    ].reduce((sum, party) => sum + change(party), 0);
    assert.ok(Math.abs(total) < 0.031, `the changes add up to ${String(total)}`);
    // Machine accounts: a channel paid by vouchers, a clone stopped by the policy, the breaker, the registry.
    // Through alto, reading the in-process chain over a loopback bridge (and stopped afterwards).
    assert.match(stdout, /a real ERC-4337 bundler: @pimlico\/alto \(pid \d+, started in \d+ ms\)/);
    const altoPid = Number(/@pimlico\/alto \(pid (\d+)/.exec(stdout)?.[1]);
    assert.throws(() => process.kill(altoPid, 0), "the demo stopped alto");
    assert.match(
      stdout,
      /one UserOperation \(approve \+ open\) deployed the account and opened channel .* with 10\.00 USD/,
    );
    assert.match(
      stdout,
      /paid 7\.30 USD \(A's balance \+7\.30 USD\), refunded 2\.70 USD to the account/,
    );
    assert.match(
      stdout,
      /refused by the bundler's simulation \(nothing sent, no gas spent\): AccountCounterpartyNotAllowed\(/,
    );
    assert.match(stdout, /refused: Locked, the velocity breaker tripped .*locked\(\) → true/);
    assert.match(stdout, /Equivocation, slashed 100\.00 USD .*the vehicle is Suspended/);
    assert.match(stdout, /refused: Untrusted, trusted weight 0/);
    assert.match(stdout, /unlocks the account and moves its 42\.70 USD to B's wallet/);
  });
});
