import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  explainError,
  firmwareSignaturesAt,
  publishFirmware,
  requireRegisteredLmsKey,
  signFirmwareRelease,
  type FirmwareSignatures,
} from "../../src/client/index.js";
import type { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import { DeviceTrustError, parseImageList } from "../../src/protocol/index.js";
import {
  connect,
  progress,
  resolveContract,
  run,
  openLmsKey,
  type Chain,
  type ChainArgs,
} from "../common.js";

interface Args extends ChainArgs {
  model: number;
  firmwareVersion: string;
  images: string;
  uri: string;
  lmsKey: string;
  password: string;
  firmwareSignatures: string;
}

/** The maker's LMS signer and FirmwareSignatures, opened and checked before anything is published. */
async function openPqSigning(args: Args, hre: HardhatRuntimeEnvironment, chain: Chain) {
  const address = await resolveContract(
    chain,
    "FirmwareSignatures",
    "--firmware-signatures",
    args.firmwareSignatures,
  );
  const signatures = firmwareSignaturesAt(address, chain.registry);
  const signer = await openLmsKey(hre, args.lmsKey, args.password);
  try {
    const maker = Number(await chain.registry.makerOf(chain.signer.address));
    await requireRegisteredLmsKey(signatures, maker, signer.publicKeyHex);
  } catch (err: unknown) {
    signer.close();
    throw err;
  }
  return { signatures, signer };
}

export default async function firmwarePublish(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const images = parseImageList(args.images);
    const chain = await connect(hre, args);
    // With --lms-key, the key opens and is checked against the maker's registered key first: a wrong
    // password or key stops here, before a release is published that it would not sign.
    let pq: { signatures: FirmwareSignatures; signer: LmsStatefulSigner } | undefined;
    if (args.lmsKey !== "") pq = await openPqSigning(args, hre, chain);
    try {
      progress(
        `measuring ${String(images.length)} images and publishing model ${String(args.model)} version ${args.firmwareVersion}`,
      );
      const published = await publishFirmware({
        registry: chain.registry,
        model: args.model,
        version: args.firmwareVersion,
        images,
        uri: args.uri,
      });
      if (pq === undefined) return published;
      progress(
        `signing firmware ${String(published.firmwareId)}'s manifest with the maker's LMS key (leaf ${String(pq.signer.next)})`,
      );
      try {
        const signed = await signFirmwareRelease({
          firmwareSignatures: pq.signatures,
          registry: chain.registry,
          firmwareId: published.firmwareId,
          version: published.version,
          signer: pq.signer,
        });
        return {
          ...published,
          pqSigned: signed.pqSigned,
          pqDigest: signed.digest,
          pqLeaf: signed.leaf,
          pqTxHash: signed.txHash,
          pqGasUsed: signed.gasUsed,
        };
      } catch (err: unknown) {
        const cause = explainError(err);
        throw new DeviceTrustError(
          cause.code,
          `firmware ${String(published.firmwareId)} is published but not PQ-signed: ${cause.message}. Sign it once that is fixed: firmware sign --model ${String(args.model)} --firmware-version ${args.firmwareVersion} --lms-key ${args.lmsKey}`,
          { cause },
        );
      }
    } finally {
      pq?.signer.close();
    }
  });
}
