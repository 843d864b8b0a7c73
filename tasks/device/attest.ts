import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  attestDevice,
  attestWithTpm,
  openKeyStore,
  parseChallengeMode,
  psaAttestationAt,
  submitPsaToken,
  tpmAttestationAt,
} from "../../src/client/index.js";
import { Tpm } from "../../src/device/tpm.js";
import { parseHexBytes, parseImageList, type Hex } from "../../src/protocol/index.js";
import {
  connect,
  keyStoreOptions,
  progress,
  resolveContract,
  run,
  type Chain,
  type ChainArgs,
  type KeyArgs,
} from "../common.js";

interface Args extends ChainArgs, KeyArgs {
  deviceId: string;
  images: string;
  bootState: string;
  challenge: string;
  tpm: string;
  tpmAttestation: string;
  psaToken: string;
  psaAttestation: string;
}

export default async function deviceAttest(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const images = args.psaToken === "" ? parseImageList(args.images) : [];
    const mode = parseChallengeMode(args.challenge);
    const chain = await connect(hre, args);
    const from = mode === "block" ? "a recent block hash" : "an issued nonce";
    if (args.tpm !== "") return attestTpm(args, chain, images, mode, from);
    const keyStore = await openKeyStore(await keyStoreOptions(hre, args));
    if (args.psaToken !== "") {
      try {
        return await submitPsa(args, chain, keyStore.deviceKey.key);
      } finally {
        await keyStore.close();
      }
    }
    try {
      progress(`booting ${String(images.length)} images, challenge from ${from}`);
      const {
        evidence: _signed,
        steps: _steps,
        ...result
      } = await attestDevice({
        registry: chain.registry,
        device: keyStore,
        deviceId: args.deviceId,
        images,
        bootState: args.bootState,
        challenge: mode,
      });
      return args.json ? { ...result, signature: _signed.signature } : result;
    } finally {
      await keyStore.close();
    }
  });
}

/** The PSA path: a token the device made over its pending nonce, appraised here, recorded on chain. */
async function submitPsa(args: Args, chain: Chain, key: Hex) {
  const address = await resolveContract(
    chain,
    "PsaAttestation",
    "--psa-attestation",
    args.psaAttestation,
  );
  const raw = await readFile(args.psaToken);
  const text = raw.toString("utf8").trim();
  const token = /^(0x)?[0-9a-fA-F]+$/.test(text) ? parseHexBytes(text, "--psa-token") : raw;
  progress(`appraising the PSA token (${String(token.length)} bytes) against the pending nonce`);
  return submitPsaToken({
    registry: chain.registry,
    appraiser: psaAttestationAt(address, chain.registry),
    token,
    key,
    deviceId: args.deviceId,
  });
}

/** The TPM path: PCR 16 measured, quoted by the AK over the challenge, appraised and recorded on chain. */
async function attestTpm(
  args: Args,
  chain: Chain,
  images: readonly string[],
  mode: ReturnType<typeof parseChallengeMode>,
  from: string,
) {
  const address = await resolveContract(
    chain,
    "TpmAttestation",
    "--tpm-attestation",
    args.tpmAttestation,
  );
  const workDir = await mkdtemp(join(tmpdir(), "devicetrust-tpm-"));
  try {
    progress(
      `extending PCR 16 with ${String(images.length)} images on the TPM (${args.tpm}), quote over ${from}`,
    );
    const {
      steps: _steps,
      quote,
      signature,
      ...result
    } = await attestWithTpm({
      registry: chain.registry,
      appraiser: tpmAttestationAt(address, chain.registry),
      tpm: new Tpm({ tcti: args.tpm, workDir }),
      deviceId: args.deviceId,
      images,
      challenge: mode,
    });
    return args.json ? { ...result, quote, signature } : result;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
