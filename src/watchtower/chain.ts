import {
  getAddress,
  isCallException,
  type ContractRunner,
  type ContractTransactionResponse,
} from "ethers";
import {
  DeviceTrustError,
  asHex,
  type Hex,
  type BatchedReading,
  type KeyRotationListener,
  type SignedReading,
} from "../protocol/index.js";
import { decodeContractError } from "../client/decode-error.js";
import {
  IDeviceRegistry__factory,
  IFraudProofs__factory,
  type IDeviceRegistry,
  type IFraudProofs,
} from "../../types/ethers-contracts/index.js";
import {
  ProofRejectedError,
  type DeviceDirectory,
  type ProofSubmitter,
  type SensorRange,
  type SubmittedProof,
} from "./types.js";

/**
 * The watchtower's chain side over ethers and the typechain bindings: a DeviceDirectory reading the
 * registry and the proofs contract, and a ProofSubmitter sending proofs to the proofs contract.
 */

/** The registry's and proofs contract's answers, through `runner` (a provider or a signer). */
export function chainDirectory(
  registryAddress: string,
  proofsAddress: string,
  runner: ContractRunner,
): DeviceDirectory {
  const registry: IDeviceRegistry = IDeviceRegistry__factory.connect(
    asHex(registryAddress, "registry address", 20),
    runner,
  );
  const proofs: IFraudProofs = IFraudProofs__factory.connect(
    asHex(proofsAddress, "proofs address", 20),
    runner,
  );
  return {
    async keyOwner(keyHash: Hex): Promise<Hex> {
      return (await registry.keyOwner(keyHash)).toLowerCase() as Hex;
    },
    async currentKeyHash(deviceId: Hex): Promise<Hex> {
      return (await registry.deviceInfo(deviceId)).keyHash.toLowerCase() as Hex;
    },
    keyRetiredAt(keyHash: Hex): Promise<bigint> {
      return registry.keyRetiredAt(keyHash);
    },
    watchKeyRotations(listener: KeyRotationListener): Promise<() => Promise<void>> {
      return onRegistryEvent(registryAddress, runner, "KeyRotated", (deviceId, newKeyHash) => {
        listener(deviceId, newKeyHash);
      });
    },
    watchRegistrations(listener: (deviceId: Hex) => void): Promise<() => Promise<void>> {
      return onRegistryEvent(registryAddress, runner, "DeviceRegistered", (deviceId) => {
        listener(deviceId);
      });
    },
    async deviceModel(deviceId: Hex) {
      const info = await registry.deviceInfo(deviceId);
      return { maker: Number(info.maker), model: Number(info.model) };
    },
    async sensorRange(maker: number, model: number): Promise<SensorRange | null> {
      const [range, declared] = await proofs.sensorRange(maker, model);
      return declared ? { min: range.min, max: range.max } : null;
    },
    async ping(): Promise<void> {
      const provider = runner.provider;
      if (provider === null) {
        throw new DeviceTrustError(
          "WATCHTOWER_NO_PROVIDER",
          "the watchtower's runner has no provider: connect its signer to a network",
        );
      }
      await provider.getBlockNumber();
    },
  };
}

/**
 * Calls `listener` with the first two arguments of each `event` the registry emits (lower-case hex),
 * from now on; resolves once subscribed with a function that unsubscribes.
 */
async function onRegistryEvent(
  registryAddress: string,
  runner: ContractRunner,
  event: "KeyRotated" | "DeviceRegistered",
  listener: (first: Hex, second: Hex) => void,
): Promise<() => Promise<void>> {
  // Checksummed: Hardhat's provider matches log addresses to the filter's case-sensitively.
  const registry = IDeviceRegistry__factory.connect(getAddress(registryAddress), runner);
  const filter =
    event === "KeyRotated"
      ? registry.getEvent("KeyRotated")
      : registry.getEvent("DeviceRegistered");
  const onEvent = (first: unknown, second: unknown, ..._rest: unknown[]): void => {
    listener(String(first).toLowerCase() as Hex, String(second).toLowerCase() as Hex);
  };
  await registry.on(filter, onEvent);
  return async () => {
    await registry.off(filter, onEvent);
  };
}

function toStruct(s: SignedReading): IFraudProofs.SignedReadingStruct {
  return {
    reading: {
      deviceId: s.reading.deviceId,
      feedId: s.reading.feedId,
      sequence: s.reading.sequence,
      timestamp: s.reading.timestamp,
      value: s.reading.value,
    },
    key: { keyType: s.key.keyType, key: s.key.key },
    signature: s.signature,
  };
}

function toBatchedStruct(b: BatchedReading): IFraudProofs.BatchedReadingStruct {
  return {
    batch: { ...b.batch },
    key: { keyType: b.key.keyType, key: b.key.key },
    signature: b.signature,
    reading: { ...b.reading },
    proof: [...b.proof],
  };
}

const proofsInterface = IFraudProofs__factory.createInterface();

/** A revert as ProofRejectedError (its custom error named), or the error itself if it is no revert. */
export function asProofError(err: unknown): unknown {
  if (err instanceof ProofRejectedError) return err;
  const decodedLib = decodeContractError(err);
  if (decodedLib !== undefined) {
    return new ProofRejectedError(decodedLib.code, decodedLib.args, { cause: err });
  }
  if (isCallException(err)) {
    if (err.revert !== null) {
      return new ProofRejectedError(err.revert.name, err.revert.args, { cause: err });
    }
    if (typeof err.data === "string" && err.data.length >= 10) {
      const parsed = proofsInterface.parseError(err.data);
      if (parsed !== null) {
        return new ProofRejectedError(parsed.name, parsed.args.toArray(), { cause: err });
      }
    }
    // A revert the interface does not know (out of gas, a panic) is still final for this evidence.
    return new ProofRejectedError("UnknownRevert", [err.data ?? err.shortMessage], { cause: err });
  }
  return err;
}

/**
 * Sends proofs to the IFraudProofs contract at `proofsAddress` from `signer`. A revert becomes a
 * ProofRejectedError; anything else (a network error, a dropped transaction) is rethrown as it is and
 * the watchtower retries it.
 */
export function fraudProofsSubmitter(
  proofsAddress: string,
  signer: ContractRunner,
): ProofSubmitter {
  const proofs = IFraudProofs__factory.connect(asHex(proofsAddress, "proofs address", 20), signer);

  async function sendProof(
    call: () => Promise<ContractTransactionResponse>,
  ): Promise<SubmittedProof> {
    try {
      const tx = await call();
      const receipt = await tx.wait();
      if (receipt === null) {
        throw new DeviceTrustError(
          "TX_DROPPED",
          `proof transaction ${tx.hash} was dropped: it is sent again`,
        );
      }
      for (const log of receipt.logs) {
        const parsed = proofs.interface.parseLog(log);
        if (parsed?.name === "IncidentRecorded") {
          return {
            incident: String(parsed.args[0]).toLowerCase() as Hex,
            txHash: receipt.hash as Hex,
          };
        }
      }
      throw new DeviceTrustError(
        "WATCHTOWER_NO_INCIDENT",
        `proof transaction ${receipt.hash} emitted no IncidentRecorded: check the proofs address`,
      );
    } catch (err: unknown) {
      throw asProofError(err);
    }
  }

  return {
    proveEquivocation: (a, b, beneficiary) =>
      sendProof(() => proofs.proveEquivocation(toStruct(a), toStruct(b), beneficiary)),
    proveOutOfBounds: (r, beneficiary) =>
      sendProof(() => proofs.proveOutOfBounds(toStruct(r), beneficiary)),
    proveBatchOutOfBounds: (r, beneficiary) =>
      sendProof(() => proofs.proveBatchOutOfBounds(toBatchedStruct(r), beneficiary)),
    proveBatchEquivocation: (a, b, beneficiary) =>
      sendProof(() => proofs.proveBatchEquivocation(toBatchedStruct(a), toStruct(b), beneficiary)),
    proveBatchPairEquivocation: (a, b, beneficiary) =>
      sendProof(() =>
        proofs.proveBatchPairEquivocation(toBatchedStruct(a), toBatchedStruct(b), beneficiary),
      ),
  };
}
