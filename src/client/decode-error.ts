import { Interface, id, ZeroHash } from "ethers";
import { DeviceTrustError, KeyType, isHex } from "../protocol/index.js";
import { firmwareStatusName } from "../verify/appraise.js";
import {
  DeviceRegistry__factory,
  DeviceStaking__factory,
  FraudProofs__factory,
  IInsurancePool__factory,
  MockERC20__factory,
  PsaAttestation__factory,
  TpmAttestation__factory,
} from "../../types/ethers-contracts/index.js";

/**
 * A revert of a DeviceTrust contract, decoded: `code` is the custom error's name
 * (e.g. "DeviceRegistryExpired"), `args` its arguments, and the message says what to do.
 */
export class ContractError extends DeviceTrustError {
  readonly args: readonly unknown[];

  constructor(
    code: string,
    args: readonly unknown[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = "ContractError";
    this.args = args;
  }
}

const STATUS_NAMES = ["Unknown", "Active", "Suspended", "Revoked", "Decommissioned"] as const;
const KEY_TYPE_NAMES: Readonly<Record<number, string>> = {
  [KeyType.None]: "None",
  [KeyType.Secp256k1]: "secp256k1",
  [KeyType.P256]: "P-256",
};

export function statusName(status: bigint | number): string {
  return STATUS_NAMES[Number(status)] ?? `status ${String(status)}`;
}

function keyTypeName(keyType: unknown): string {
  return KEY_TYPE_NAMES[Number(keyType)] ?? `key type ${String(keyType)}`;
}

const ROLE_NAMES: ReadonlyMap<string, string> = new Map([
  [ZeroHash, "DEFAULT_ADMIN_ROLE"],
  [id("GOVERNOR_ROLE"), "GOVERNOR_ROLE"],
  [id("SUSPENDER_ROLE"), "SUSPENDER_ROLE"],
  [id("APPRAISER_ROLE"), "APPRAISER_ROLE"],
  [id("KEY_RECOVERY_ROLE"), "KEY_RECOVERY_ROLE"],
]);

function roleName(role: unknown): string {
  const r = String(role).toLowerCase();
  return ROLE_NAMES.get(r) ?? `role ${r}`;
}

/** An error argument as text (bigints in decimal). */
export function s(value: unknown): string {
  return typeof value === "bigint" ? value.toString() : String(value);
}

/** Sentences by custom error name, given the error's arguments. */
export type ErrorSentences = Readonly<Record<string, (a: readonly unknown[]) => string>>;

/** Unix seconds, with their ISO date. */
export function when(seconds: unknown): string {
  const n = Number(seconds);
  if (!Number.isSafeInteger(n)) return s(seconds);
  return `${s(seconds)} (${new Date(n * 1000).toISOString()})`;
}

function duration(seconds: unknown): string {
  const n = Number(seconds);
  if (!Number.isSafeInteger(n)) return s(seconds);
  return n % 86_400 === 0 ? `${String(n / 86_400)}d` : `${String(n)} s`;
}

/** IInsurancePool's InsuranceTargetNotInsurable reason codes. */
const NOT_INSURABLE: Readonly<Record<number, string>> = {
  1: "the device is not Active: coverage is sold only on active devices",
  2: "the device has not attested on good firmware within the pool's maxAttestationAge: attest it again (device attest)",
  3: "the pool knows an incident on it: no new coverage is sold on a device that failed",
  4: "no stake is allocated to this pool for it: its operator allocates active stake first (stake allocate --pool)",
  5: "it is not a feed of the pool's feed factory: check --feed",
  6: "the feed has no fresh committed round (none yet, or its latest rests on readings past maxReadingAge) or its circuit breaker tripped: wait until readFresh answers (feed read --max-age <seconds>)",
  7: "the feed has no members: its owner adds devices first (feed add-device)",
};

/** IInsurancePool's InsuranceMemberNotInsurable reasons (the same codes, said of a feed member). */
const MEMBER_NOT_INSURABLE: Readonly<Record<number, string>> = {
  1: "it is not Active",
  2: "it has not attested on good firmware within the pool's maxAttestationAge: its operator attests it again (device attest)",
  3: "the pool knows an incident on it: a feed with a failed member sells no new coverage until the owner removes it",
  4: "its operator allocated no stake to this pool for the feed: stake allocate --pool <pool> --feed <feed>",
};

/** One sentence per custom error: what happened, then what to do. Arguments in declaration order. */
const EXPLAIN: ErrorSentences = {
  // ------------------------------------------------------------ DeviceRegistry
  DeviceRegistryZeroAddress: () =>
    "an address argument is the zero address: pass a real operator, recipient or maker signer",
  DeviceRegistryUnknownMaker: (a) =>
    `maker ${s(a[0])} does not exist: check the maker id (governance adds makers with maker add)`,
  DeviceRegistryMakerRemoved: (a) =>
    `maker ${s(a[0])} was removed by governance: its endorsements and batches no longer register devices; get an endorsement from an active maker`,
  DeviceRegistrySignerIsMaker: (a) =>
    `address ${s(a[0])} is already the signer of maker ${s(a[1])}: give each maker its own key`,
  DeviceRegistryTooManyMakers: () =>
    "the registry already holds 65535 makers: no more can be added",
  DeviceRegistryNotMaker: (a) =>
    `${s(a[0])} is not the signer of an active maker (nor governance): send this from the maker's key`,
  DeviceRegistryInvalidMakerSignature: (a) =>
    `the endorsement is not a valid signature of maker ${s(a[0])} over device ${s(a[1])} and this model, chain and registry: have the maker sign it again (maker endorse) with the right --model`,
  DeviceRegistryBatchExists: (a) => `batch ${s(a[0])} is already published: nothing to do`,
  DeviceRegistryUnknownBatch: (a) =>
    `batch ${s(a[0])} was never published on this registry: have the maker publish it (maker batch --publish) first`,
  DeviceRegistryBatchRevoked: (a) =>
    `batch ${s(a[0])} was revoked by its maker or governance: its devices cannot register with it`,
  DeviceRegistryInvalidBatchProof: (a) =>
    `the proof does not show device ${s(a[1])} with this model in batch ${s(a[0])}: use the proof and model from that batch's manifest`,
  DeviceRegistryExpired: (a) =>
    `the signed deadline ${when(a[0])} passed at ${when(a[1])}: sign a new message with a later --deadline`,
  DeviceRegistryKeyTaken: (a) =>
    `key ${s(a[0])} belongs or belonged to device ${s(a[1])}: a key is never reused, generate a new one (device keygen)`,
  DeviceRegistryInvalidDeviceSignature: (a) =>
    `the device signature does not match device ${s(a[0])}'s key over this message, chain and registry (or names another operator or deadline): sign again with the device's current key`,
  DeviceRegistryInvalidNewKeySignature: (a) =>
    `the new key ${s(a[1])} did not sign the rotation of device ${s(a[0])}: the new key must sign the same RotateKey message`,
  DeviceRegistryUnknownDevice: (a) =>
    `device ${s(a[0])} is not registered on this registry: check the device id, the --registry address and the network`,
  DeviceRegistryWrongKey: (a) =>
    `key ${s(a[1])} is not device ${s(a[0])}'s current key: use the key file the device holds now (after a rotation, the new one)`,
  DeviceRegistryInvalidNonce: (a) =>
    `device ${s(a[0])} expects nonce ${s(a[1])} but the message has ${s(a[2])}: read the nonce (device show) and sign again`,
  DeviceRegistryNotActive: (a) =>
    `device ${s(a[0])} is ${statusName(Number(a[1]))}, not Active: only an active device can do this (governance reinstates suspended devices)`,
  DeviceRegistryNotSuspended: (a) =>
    `device ${s(a[0])} is ${statusName(Number(a[1]))}, not Suspended: only a suspended device can be reinstated`,
  DeviceRegistryTerminal: (a) =>
    `device ${s(a[0])} is ${statusName(Number(a[1]))}, which is final: nothing can change it; register a new device with a new key`,
  DeviceRegistryNotOperator: (a) =>
    `${s(a[1])} is not the operator of device ${s(a[0])}: send this from the operator's account (--from)`,
  DeviceRegistryUnauthorized: (a) =>
    `${s(a[1])} may not do this to device ${s(a[0])}: only its operator, governance (or for suspend the SUSPENDER role) may`,
  DeviceRegistryNoPendingTransfer: (a) =>
    `device ${s(a[0])} has no pending custody transfer: the current operator starts one with device transfer --to`,
  DeviceRegistryNotPendingOperator: (a) =>
    `${s(a[1])} is not the pending operator of device ${s(a[0])}: accept from the account named in device transfer --to`,
  // ------------------------------------------------------------ IDeviceAttestation
  AttestationNotMaker: (a) =>
    Number(a[0]) === 0
      ? `${s(a[1])} is not the signing key of an active maker: publish firmware from the maker's account (--from)`
      : `${s(a[1])} is not the key of maker ${s(a[0])}, which owns this firmware: send this from that maker's account (governance may only revoke)`,
  AttestationNotAppraiser: (a) =>
    `${s(a[0])} lacks the registry's APPRAISER_ROLE: only an appraiser contract (TpmAttestation, PsaAttestation) records appraised evidence; governance grants the role to the appraisers the system deploys`,
  // ------------------------------------------------------------ TpmAttestation, PsaAttestation
  TpmAttestationBadKey: (a) =>
    `the Attestation Key given is ${s(a[0])} bytes, not a P-256 key x‖y (64 bytes): pass the device's registered key`,
  TpmAttestationInvalidSignature: (a) =>
    `the Attestation Key given did not sign this quote for device ${s(a[0])}: the quote, its signature and the key must come from the same TPM`,
  TpmAttestationResetCountWentBack: (a) =>
    `the quote's TPM reset count ${s(a[1])} is below the device's latest evidence's (${s(a[2])}): an old quote, or a TPM rolled back; take a fresh quote`,
  TpmAttestationClockWentBack: (a) =>
    `the quote's TPM clock (${s(a[1])} s) is not after the latest evidence's (${s(a[2])} s) within the same reset: this quote (or a newer one) is recorded already; take a fresh quote a second later`,
  TpmAttestationPcrCountMismatch: (a) =>
    `the quote selects ${s(a[0])} PCRs and ${s(a[1])} values were given: pass the value of every selected PCR, in ascending order`,
  TpmAttestationPcrDigestMismatch: () =>
    "the PCR values given do not hash to the quote's PCR digest: pass the values the TPM quoted (tpm2_pcrread right after the quote)",
  TpmQuoteBootPcrNotSelected: () =>
    "the quote does not cover PCR 16, which holds the measured boot: quote PCR 16 (device attest --tpm does)",
  // TpmQuoteLib: the quote and the signature as the TPM gives them (device attest --tpm checks both first).
  TpmQuoteTruncated: (a) =>
    `the quote ends at byte ${s(a[1])} where its layout needs ${s(a[0])} bytes: pass TPMS_ATTEST whole, as tpm2_quote writes it (--message)`,
  TpmQuoteTrailingBytes: (a) =>
    `${String(Number(a[1]) - Number(a[0]))} bytes follow the quote's PCR digest (at ${s(a[0])} of ${s(a[1])}): pass TPMS_ATTEST alone, not the TPM2B around it or a file with more in it`,
  TpmQuoteBadMagic: (a) =>
    `the quote's magic is 0x${Number(a[0]).toString(16)}, not TPM_GENERATED_VALUE (0xff544347): this is not a structure a TPM generated`,
  TpmQuoteNotAQuote: (a) =>
    `the attestation structure is of type 0x${Number(a[0]).toString(16)}, not a quote (TPM_ST_ATTEST_QUOTE, 0x8018): take it with tpm2_quote`,
  TpmQuoteWrongLength: (a) =>
    `a field of the quote at byte ${s(a[0])} is ${s(a[1])} bytes, which the layout does not allow (qualifiedSigner at most 66, extraData the 32-byte challenge, one 32-byte SHA-256 PCR digest): quote with a 32-byte nonce over SHA-256 PCRs`,
  TpmQuoteBadSafeFlag: (a) =>
    `the quote's clockInfo.safe is ${s(a[0])}, neither NO (0) nor YES (1): the structure is corrupt`,
  TpmQuoteBadSelection: (a) =>
    `the quote selects ${s(a[0])} PCR banks of ${s(a[1])} select bytes: quote one SHA-256 bank with 3 or 4 select bytes (tpm2_quote -l sha256:16)`,
  TpmQuoteUnsupportedHash: (a) =>
    `the quote's PCR bank uses hash 0x${Number(a[0]).toString(16)}, not SHA-256 (0x000b): quote the sha256 bank`,
  TpmSignatureUnsupported: (a) =>
    `the quote's signature uses algorithm 0x${Number(a[0]).toString(16)}, not ECDSA over SHA-256: sign the quote with the P-256 Attestation Key (tpm2_quote -g sha256)`,
  TpmSignatureMalformed: (a) =>
    `the quote's signature is malformed at byte ${s(a[0])}: pass the TPMT_SIGNATURE tpm2_quote wrote (-s), or r‖s / DER`,
  TpmSignatureOutOfRange: () =>
    "the quote's signature has r or s outside [1, n): it is not a P-256 signature",
  // PsaTokenLib: a token's encoding (RFC 9783 §5; device attest --psa-token appraises it locally first and
  // names the rule).
  PsaTokenTruncated: (a) =>
    `the PSA token ends at byte ${s(a[1])} where an item needs ${s(a[0])}: pass the whole COSE_Sign1 as the device emitted it`,
  PsaTokenTrailingBytes: (a) =>
    `bytes follow the token's last item (at ${s(a[0])} of ${s(a[1])}): pass exactly one COSE_Sign1, nothing after the signature or the claims map`,
  PsaTokenIndefiniteLength: (a) =>
    `the PSA token has an indefinite-length item at byte ${s(a[0])}: RFC 9783 allows definite lengths only`,
  PsaTokenMalformed: (a) =>
    `the PSA token is not well-formed CBOR at byte ${s(a[0])} (initial byte 0x${Number(a[1]).toString(16)}): the token is corrupt`,
  PsaTokenWrongTag: (a) =>
    `the PSA token does not start with tag 18 (COSE_Sign1) but major type ${s(a[0])}, argument ${s(a[1])}: pass the tagged COSE_Sign1 the attestation service returns`,
  PsaTokenMissingAlgorithm: () =>
    "the PSA token's protected header names no algorithm: an RFC 9783 token names ES256 (1: -7) in its protected header",
  PsaTokenWrongAlgorithm: (a) =>
    `the PSA token is signed with COSE algorithm ${s(a[0])}, not ES256 (-7): DeviceTrust devices sign with their P-256 key`,
  PsaTokenCriticalHeader: () =>
    "the PSA token marks headers critical (crit, label 2): no header extension is understood here, so the token cannot be appraised",
  PsaTokenDuplicateHeader: (a) =>
    `the PSA token's header label ${s(a[1])} (at byte ${s(a[0])}) appears twice: a label may appear once, in one bucket (alg only in the protected one)`,
  PsaTokenUnsupportedHeaderLabel: (a) =>
    `a PSA token header label at byte ${s(a[0])} is not an integer from -128 to 127 (major type ${s(a[1])}, argument ${s(a[2])}): COSE's registered labels are`,
  PsaTokenUnexpectedItem: (a) =>
    `the PSA token has an item of major type ${s(a[1])} (argument ${s(a[2])}) at byte ${s(a[0])} where RFC 9783's structure has another kind: check the token with appraisePsaToken (src/verify/psa-token.ts), which names the claim`,
  PsaTokenWrongSize: (a) =>
    `a string of the PSA token at byte ${s(a[0])} is ${s(a[1])} bytes, not its claim's size (nonce 32, instance id 33, implementation id 32, boot seed 8–32, signer id 32/48/64, signature 64)`,
  PsaTokenDuplicateKey: (a) =>
    `the PSA token repeats key ${s(a[1])} in one map (at byte ${s(a[0])}): each claim and component field appears once`,
  PsaTokenUnknownClaim: (a) =>
    `the PSA token carries claim ${s(a[1])} (at byte ${s(a[0])}), which RFC 9783 does not define: a token of the legacy PSA_IOT_PROFILE_1 profile is not accepted`,
  PsaTokenMissingClaim: (a) =>
    `the PSA token lacks claim ${s(a[0])}, which RFC 9783 makes mandatory (nonce 10, instance id 256, profile 265, client id 2394, lifecycle 2395, implementation id 2396, software components 2399)`,
  PsaTokenWrongProfile: (a) =>
    `the PSA token's profile is ${JSON.stringify(s(a[0]))}, not "tag:psacertified.org,2023:psa#tfm" (RFC 9783): the attester emits an older profile`,
  PsaTokenInstanceIdNotRand: (a) =>
    `the PSA token's instance id is a UEID of type ${s(a[0])}, not RAND (0x01): RFC 9783's instance id is 0x01 followed by the key's hash`,
  PsaTokenBadClientId: (a) =>
    `the PSA token's client id is ${s(a[0])}: RFC 9783 makes it a non-zero 32-bit integer`,
  PsaTokenBadLifecycle: (a) =>
    `the PSA token's security lifecycle 0x${Number(a[0]).toString(16)} is in none of RFC 9783's states (0x0000–0x60ff by major byte)`,
  PsaTokenBadCertificationReference: (a) =>
    `the PSA token's certification reference ${JSON.stringify(s(a[0]))} is not EAN-13+5 (13 digits, "-", 5 digits)`,
  PsaTokenInvalidUtf8: (a) =>
    `a text string of the PSA token is not UTF-8 at byte ${s(a[0])}: the token is corrupt`,
  PsaTokenNoSoftwareComponents: () =>
    "the PSA token lists no software components: RFC 9783 requires at least one, and the measurement is made of them",
  PsaTokenUnknownComponentKey: (a) =>
    `software component ${s(a[0])} of the PSA token has key ${s(a[2])} (at byte ${s(a[1])}), which RFC 9783 does not define (1, 2, 4, 5, 6)`,
  PsaTokenMissingComponentField: (a) =>
    `software component ${s(a[0])} of the PSA token lacks field ${s(a[1])} (2: measurement value, 5: signer id), which RFC 9783 makes mandatory`,
  PsaTokenMeasurementNotSha256: (a) =>
    `software component ${s(a[0])} of the PSA token is measured with ${Number(a[1]) === 48 ? "SHA-384" : "SHA-512"}: DeviceTrust's measurement folds SHA-256 measurement values; measure the images with SHA-256`,
  PsaAttestationBadKey: (a) =>
    `the device key given is ${s(a[0])} bytes, not a P-256 key x‖y (64 bytes): pass the device's registered key`,
  PsaAttestationInvalidSignature: (a) =>
    `the token's ES256 signature is not by the key given for device ${s(a[0])} (or its s is high): the token must be signed by the device's registered key, low-s`,
  PsaAttestationWrongInstanceId: (a) =>
    `the token's instance id is not the one of device ${s(a[0])}'s key (0x01 ‖ sha256(0x04 ‖ x ‖ y)): the token comes from another device, or the key given is not its key`,
  PsaAttestationUntrustedLifecycle: (a) =>
    `device ${s(a[0])} reports security lifecycle 0x${Number(a[1]).toString(16)}, which is not secured (SECURED 0x3000–0x30ff or NON_PSA_ROT_DEBUG 0x4000–0x40ff): a device in provisioning, debug or decommissioning is not trusted`,
  AttestationZeroMeasurement: () =>
    "the measurement is zero: compute it from the firmware images (firmware publish --images)",
  AttestationVersionExists: (a) =>
    `maker ${s(a[0])} already published version "${s(a[2])}" of model ${s(a[1])}: a published version never changes; publish the new build under a new --firmware-version`,
  AttestationMeasurementExists: (a) =>
    `maker ${s(a[0])} already published measurement ${s(a[2])} for model ${s(a[1])} under another version: the images are identical to that release (firmware list shows it)`,
  AttestationUnknownFirmware: (a) =>
    `firmware ${s(a[0])} does not exist: check the id (firmware list)`,
  AttestationUnknownVersion: (a) =>
    `maker ${s(a[0])} published no version "${s(a[2])}" of model ${s(a[1])}: check --model and --firmware-version (firmware list)`,
  AttestationInvalidStatusChange: (a) =>
    `firmware ${s(a[0])} is ${firmwareStatusName(Number(a[1]))} and cannot become ${firmwareStatusName(Number(a[2]))}: only Good firmware is deprecated, and a revocation is final`,
  AttestationSunsetInPast: (a) =>
    `the sunset ${when(a[0])} is not after the block time ${when(a[1])}: give a future --sunset (or revoke to distrust at once)`,
  AttestationUnknownMeasurement: (a) =>
    `device ${s(a[0])} measured ${s(a[1])}, which no maker published: it runs unknown code, or its maker has not published this build yet (firmware publish with the same images)`,
  AttestationMeasurementOfOtherModel: (a) =>
    `device ${s(a[0])} measured ${s(a[1])}, the firmware ${s(a[2])} of another maker or model: install its own model's firmware`,
  AttestationFirmwareNotTrusted: (a) =>
    `device ${s(a[0])} runs firmware ${s(a[1])}, which is ${firmwareStatusName(Number(a[2]))}${Number(a[2]) === 2 ? " past its sunset" : ""}: update it to a good version, reboot and attest again`,
  AttestationInvalidSignature: (a) =>
    `the evidence is not signed by device ${s(a[0])}'s key over this message, chain and registry: sign it again with the device's current key`,
  AttestationFutureTimestamp: (a) =>
    `the evidence timestamp ${when(a[0])} is after the block time ${when(a[1])}: the device's clock is ahead; date evidence with the chain's latest block time`,
  AttestationTooOld: (a) =>
    `the evidence timestamp ${when(a[0])} is more than ${s(a[2])} s before the block time ${when(a[1])}: sign fresh evidence and submit it at once`,
  AttestationNotNewer: (a) =>
    `the evidence timestamp ${when(a[1])} is not after device ${s(a[0])}'s latest evidence (${when(a[2])}): a replay, or two reports in one second; sign new evidence later`,
  AttestationBootCountDecreased: (a) =>
    `the boot counter ${s(a[1])} is below device ${s(a[0])}'s recorded ${s(a[2])}: the counter went backwards (a reset or a replayed old boot); restore the device's boot state`,
  AttestationStaleChallenge: (a) =>
    Number(a[2]) === 0
      ? `challenge ${s(a[1])} is not device ${s(a[0])}'s pending issued nonce (each is used once): issue a new one (device attest --challenge nonce)`
      : `challenge ${s(a[1])} is not the hash of block ${s(a[2])} among the last 256 blocks: take a recent block's hash and submit at once`,
  AttestationNotOperator: (a) =>
    `${s(a[1])} is not the operator of device ${s(a[0])} (nor governance): only they may issue it a challenge; send from the operator's account or use --challenge block`,
  // ------------------------------------------------------------ DeviceKeyLib
  DeviceKeyUnsupportedType: (a) =>
    `${keyTypeName(a[0])} is not a supported key type: use secp256k1 or P-256`,
  DeviceKeyInvalidLength: (a) =>
    `a ${keyTypeName(a[0])} key must be ${s(a[2])} bytes, this one is ${s(a[1])}: pass the on-chain key encoding (secp256k1: the 20-byte address; P-256: 64-byte x‖y)`,
  DeviceKeyNotOnCurve: (a) =>
    `the P-256 key (${s(a[0])}, ${s(a[1])}) is not a point on the curve: the key is corrupt, re-read it from the device`,
  DeviceKeyZeroAddress: () =>
    "the secp256k1 device key is the zero address: the key is corrupt, re-read it from the device",
  DeviceKeyInvalidSignatureLength: (a) =>
    `a ${keyTypeName(a[0])} signature must be ${s(a[2])} bytes, this one is ${s(a[1])}: sign with the device's own curve (secp256k1 r‖s‖v, P-256 r‖s)`,
  DeviceKeySignatureOutOfRange: (a) =>
    `the signature's r (${s(a[0])}) or s (${s(a[1])}) is zero or not below the curve order: the signer is broken, sign again`,
  DeviceKeyHighS: (a) =>
    `the signature's s (${s(a[0])}) is above n/2: normalize it to low-s (s = n - s) and submit again`,
  DeviceKeyInvalidV: (a) =>
    `the secp256k1 signature's v is ${s(a[0])}, not 27 or 28: encode v as 27 + recovery id`,
  // ------------------------------------------------------------ IDeviceStaking
  StakingNotOperator: (a) =>
    `${s(a[1])} is not the operator of device ${s(a[0])}: stake belongs to the device, so send this from its current operator's account (--from)`,
  StakingNotProofs: (a) =>
    `${s(a[0])} is not the fraud-proofs contract: only an accepted proof slashes; submit one with proof submit`,
  StakingZeroAmount: () => "the amount is zero: pass a positive --amount in token units",
  StakingNothingReceived: (a) =>
    `the token transferred nothing of the ${s(a[0])} units asked: the token kept it all as a fee; stake with another collateral token`,
  StakingBelowMinimum: (a) =>
    `device ${s(a[0])} would have ${s(a[1])} active stake, below the minimum ${s(a[2])}: stake at least the minimum (stake show), or withdraw all of it`,
  StakingInsufficientStake: (a) =>
    `device ${s(a[0])} has ${s(a[1])} active stake, less than the ${s(a[2])} asked: request at most its active stake (stake show)`,
  StakingNoWithdrawal: (a) =>
    `device ${s(a[0])} has no pending withdrawal: request one first (stake request-withdrawal)`,
  StakingStillUnbonding: (a) =>
    `device ${s(a[0])}'s withdrawal unlocks at ${when(a[1])}, after the block time ${when(a[2])}: wait until then and withdraw again`,
  StakingTerminalDevice: (a) =>
    `device ${s(a[0])} is revoked or decommissioned: it can no longer be staked for; withdraw what remains`,
  StakingNothingToSlash: (a) =>
    `device ${s(a[0])} has no slashable stake: there is nothing to slash`,
  StakingInvalidParams: () =>
    "the parameters are invalid (bounty above 100%, zero loss recipient or zero unbonding period): fix them and schedule again",
  StakingNoPendingParams: () => "no parameters are scheduled: governance schedules them first",
  StakingParamsNotYetEffective: (a) =>
    `the scheduled parameters take effect at ${when(a[0])}, after the block time ${when(a[1])}: apply them then`,
  StakingProofsAlreadySet: (a) =>
    `the fraud-proofs contract is already set to ${s(a[0])}: it is set once and never changes`,
  StakingWindowNotShorter: (a) =>
    `the evidence window ${s(a[0])} s is not shorter than the unbonding period ${s(a[1])} s: a withdrawal could escape a proof; use a shorter window or a longer unbonding period`,
  StakingStakeAllocated: (a) =>
    `device ${s(a[0])} has only ${s(a[1])} of active stake no allocation holds, less than the ${s(a[2])} asked: deallocate first (stake deallocate), or ask for less (stake show lists the allocations)`,
  StakingNotBacker: (a) =>
    `${s(a[0])} is not a backer governance approved: allocate only to an approved insurance pool (governance approves one with stake approve-backer)`,
  StakingTooManyAllocations: (a) =>
    `device ${s(a[0])} already holds the maximum of ${s(a[1])} allocations: add to an existing one, or deallocate one fully first`,
  StakingTooManyBackers: (a) =>
    `the staking contract already lists the maximum of ${s(a[0])} backers: no other pool can be approved`,
  StakingInsufficientAllocation: (a) =>
    `device ${s(a[0])}'s allocation to ${s(a[1])} for scope ${s(a[2])} is only ${s(a[3])}: deallocate at most that (stake show)`,
  StakingAllocationInUse: (a) =>
    `the pool ${s(a[1])}'s live coverage still needs ${s(a[4])} of device ${s(a[0])}'s allocation for scope ${s(a[2])}; ${s(a[3])} would be left: deallocate less, or wait until the coverage is paid or released (cover release)`,
  StakingBountyTooHigh: (a) =>
    `a bounty of ${s(a[0])} bps plus a backer's cover factor ceiling of ${s(a[1])} bps reaches 100%: corruption could pay; lower the bounty (or approve only pools with a lower cover factor)`,
  StakingBackerAssetMismatch: (a) =>
    `the backer ${s(a[0])} holds ${s(a[1])}, not the staking collateral: only a pool over the collateral token can be approved`,
  // ------------------------------------------------------------ IFraudProofs
  ProofsSameReading: () =>
    "the two readings are identical: equivocation needs two different contents for one device, feed and sequence",
  ProofsDifferentDevice: (a) =>
    `the evidence names two devices (${s(a[0])} and ${s(a[1])}): both readings must come from the same device`,
  ProofsDifferentFeed: (a) =>
    `the evidence names two feeds (${s(a[0])} and ${s(a[1])}): both readings must be of the same feed`,
  ProofsDifferentSequence: (a) =>
    `the readings have sequences ${s(a[0])} and ${s(a[1])}: equivocation needs two readings with the same sequence`,
  ProofsInvalidSignature: (a) =>
    `a signature in the evidence is not device ${s(a[0])}'s over this message, chain and registry (with a key it held): submit the messages exactly as the device signed them`,
  ProofsNotInBatch: (a) =>
    `the Merkle proof does not show the reading in device ${s(a[0])}'s batch ${s(a[1])}: use the proof built with that batch`,
  ProofsBatchMismatch: (a) =>
    `the reading does not belong to device ${s(a[0])}'s batch (another device or feed, or a sequence outside the batch): pair each reading with its own batch`,
  ProofsEvidenceUsed: (a) =>
    `evidence ${s(a[0])} was already used for a slash: each piece of evidence slashes once`,
  ProofsEvidenceExpired: (a) =>
    `the evidence timestamp ${when(a[0])} (its latest signed time, or the rotation that retired a key that signed it) is more than ${s(a[1])} s before the block time ${when(a[2])}: it is past the evidence window and can no longer be proven`,
  ProofsNoStake: (a) =>
    `device ${s(a[0])} has no slashable stake: there is nothing to slash, so the proof is not accepted`,
  ProofsZeroBeneficiary: () =>
    "the beneficiary is the zero address: name the account that receives the bounty (--beneficiary)",
  ProofsNoRangeDeclared: (a) =>
    `maker ${s(a[0])} declared no sensor range for model ${s(a[1])}: out-of-bounds proofs need the maker's range first`,
  ProofsWithinRange: (a) =>
    `the value ${s(a[0])} is inside the declared range [${s(a[1])}, ${s(a[2])}]: it is not out of bounds`,
  ProofsInvalidRange: (a) => `the range [${s(a[0])}, ${s(a[1])}] is empty: give min <= max`,
  ProofsNotMaker: (a) =>
    `${s(a[0])} is not the signing key of an active maker: declare sensor ranges from the maker's account`,
  ProofsKeyRetired: (a) =>
    `key ${s(a[1])} of device ${s(a[0])} was rotated out at ${when(a[2])}, before the evidence's signed time ${when(a[3])}: it was no longer the device's key then, so no proof applies (a message a retired key dates after its rotation shows the key leaked, not that the device lied: its operator should know)`,
  ProofsFirmwareNotRevoked: (a) =>
    `measurement ${s(a[1])} of device ${s(a[0])} was not revoked at ${when(a[2])}: the attestation is not evidence of revoked firmware`,
  // ------------------------------------------------------------ IInsurancePool
  InsuranceZeroAddress: () =>
    "an address is the zero address: name a real beneficiary, asset, registry, staking, proofs, feed factory or governance",
  InsuranceInvalidParams: () =>
    "the pool parameters are invalid (a bps above 10000, a zero cover factor, minTerm zero or above maxTerm, or a zero withdrawalWindow, waitingPeriod or maxAttestationAge, or a recoveryVesting under a day): fix them and set them again",
  InsuranceCoverFactorTooHigh: (a) =>
    `a cover factor of ${s(a[0])} bps plus the staking bounty of ${s(a[1])} bps reaches 100%: an operator could earn more from payouts and bounties than its lie costs; lower coverFactorBps`,
  InsuranceWindowTooShort: (a) =>
    `a claim window or cooldown of ${duration(a[0])} does not outlast the evidence window of ${duration(a[1])}: a lie could still be proven after it; make it longer`,
  InsuranceMemberNotInsurable: (a) =>
    `no coverage is sold on feed ${s(a[0])}: member ${s(a[1])} is not insurable: ${MEMBER_NOT_INSURABLE[Number(a[2])] ?? `reason ${s(a[2])}`}`,
  InsuranceMembersMismatch: (a) =>
    `the members given for policy ${s(a[1])} of ${s(a[0])} are not its snapshot: pass the members of its CoverageMembers event (cover claim finds them itself)`,
  InsuranceNotStaking: (a) =>
    `${s(a[0])} is not the staking contract: only a slash in a proof's transaction books a loss`,
  InsuranceRequestExpired: (a) =>
    `${s(a[0])}'s withdrawal request expired at ${when(a[1])}: its window to redeem passed; cancel it (pool cancel-withdrawal) and request again`,
  InsuranceZeroAmount: () => "the amount is zero: pass a positive --amount",
  InsuranceInvalidTerm: (a) =>
    `the term ${duration(a[0])} is outside the pool's [${duration(a[1])}, ${duration(a[2])}]: pick a --term in that range (pool show prints the parameters)`,
  InsuranceTargetNotInsurable: (a) =>
    `no coverage is sold on ${s(a[0])}: ${NOT_INSURABLE[Number(a[1])] ?? `reason ${s(a[1])}`}`,
  InsuranceOperatorBeneficiary: (a) =>
    `${s(a[0])} operates the covered device (or a member of the covered feed) and may not be paid for its failure: name another --beneficiary`,
  InsuranceUtilizationExceeded: (a) =>
    `the pool would lock ${s(a[0])} of coverage, above its maximum ${s(a[1])}: buy less coverage, or wait for insurers to deposit or policies to expire`,
  InsuranceCapacityExceeded: (a) =>
    `coverage on ${s(a[0])} would expose device ${s(a[1])} to ${s(a[2])}, above the ${s(a[3])} its allocation to this pool backs (allocation x cover factor): buy at most the difference (cover show), or wait until its operator allocates more (stake allocate)`,
  InsurancePremiumTooHigh: (a) =>
    `the premium is now ${s(a[0])}, above the ${s(a[1])} allowed: it rose since the quote (utilization, capacity use or attestation age); buy again, or allow more --slippage`,
  InsuranceUnknownPolicy: (a) =>
    `${s(a[0])} has no policy ${s(a[1])}: check the target and the serial (cover show lists them)`,
  InsuranceUnknownIncident: (a) =>
    `incident ${s(a[0])} was never recorded by the fraud-proofs contract: pass the incident id a proof returned (proof submit prints it)`,
  InsuranceIncidentOutsideTerm: (a) =>
    `the incident happened at ${when(a[0])} (the evidence's time), outside the policy's coverage ${when(a[1])} to ${when(a[2])} (it starts a waiting period after the sale): this policy does not cover it`,
  InsuranceIncidentNotCovered: (a) =>
    `incident ${s(a[1])} is on another device than ${s(a[0])} (or one that was never a member of the covered feed): this policy does not cover it`,
  InsurancePolicyExhausted: (a) =>
    `policy ${s(a[1])} of ${s(a[0])} owes nothing more for this incident: it paid its whole coverage, or (on a feed) this member's share at this rate`,
  InsurancePolicyActive: (a) =>
    `policy ${s(a[1])} of ${s(a[0])} can be claimed on until ${when(a[2])} (its term plus the claim window): release it after that`,
  InsurancePolicyReleased: (a) =>
    `policy ${s(a[1])} of ${s(a[0])} was released after its term: it no longer pays`,
  InsuranceNoWithdrawalRequest: (a) =>
    `${s(a[0])} has no withdrawal request: request one first (pool request-withdrawal), then wait for the cooldown`,
  InsuranceCooldown: (a) =>
    `${s(a[0])}'s withdrawal request unlocks at ${when(a[1])}: wait until then and withdraw again`,
  InsuranceExceedsRequest: (a) =>
    `${s(a[0])} asked to redeem ${s(a[1])} shares but requested only ${s(a[2])}: redeem at most the request, or request more (pool request-withdrawal)`,
  InsuranceCapitalLocked: (a) =>
    `${s(a[0])} of assets cannot leave: only ${s(a[1])} is free, the rest backs coverage in force; withdraw less, or wait until policies expire and are released`,
  InsuranceTransferShortfall: (a) =>
    `the pool asked for ${s(a[0])} of its asset but received ${s(a[1])}: the token takes a fee on transfer, which the pool refuses; pay with a token without fees`,
  // ------------------------------------------------------------ ERC-4626 (OpenZeppelin)
  ERC4626ExceededMaxDeposit: (a) =>
    `${s(a[0])} may deposit at most ${s(a[2])}, not ${s(a[1])}: deposit less`,
  ERC4626ExceededMaxMint: (a) =>
    `${s(a[0])} may mint at most ${s(a[2])} shares, not ${s(a[1])}: mint fewer`,
  ERC4626ExceededMaxWithdraw: (a) =>
    `${s(a[0])} may withdraw at most ${s(a[2])} now, not ${s(a[1])}: only a matured withdrawal request, limited by free capital, can leave (pool show)`,
  ERC4626ExceededMaxRedeem: (a) =>
    `${s(a[0])} may redeem at most ${s(a[2])} shares now, not ${s(a[1])}: only a matured withdrawal request, limited by free capital, can leave (pool show)`,
  // ------------------------------------------------------------ ERC-20 collateral (OpenZeppelin)
  ERC20InsufficientBalance: (a) =>
    `${s(a[0])} holds ${s(a[1])} of the collateral token, less than the ${s(a[2])} needed: fund the account first`,
  ERC20InsufficientAllowance: (a) =>
    `${s(a[0])} may spend only ${s(a[1])} of the collateral token, less than the ${s(a[2])} needed: approve the staking contract for the amount (stake deposit does this)`,
  SafeERC20FailedOperation: (a) =>
    `the collateral token ${s(a[0])} refused a transfer: check the token and the balances`,
  ReentrancyGuardReentrantCall: () =>
    "the contract was re-entered during a call: the token or a hook called back in; this is refused",
  // ------------------------------------------------------------ AccessControl (OpenZeppelin)
  AccessControlUnauthorizedAccount: (a) =>
    `${s(a[0])} lacks ${roleName(a[1])}: send this from a governance account (or have governance grant the role)`,
  AccessControlBadConfirmation: () =>
    "renounceRole must be called by the account itself: send it from that account",
};

/**
 * The custom-error names explained above: every error of IDeviceRegistry, IDeviceAttestation,
 * DeviceKeyLib, IDeviceStaking, IFraudProofs, IInsurancePool, AccessControl and the OpenZeppelin
 * ERC-20 and ERC-4626 errors.
 */
export const EXPLAINED_ERRORS: readonly string[] = Object.keys(EXPLAIN);

/** Tried in order: the registry (with DeviceKeyLib and AccessControl), staking, proofs, pool, ERC-4626, ERC-20. */
const INTERFACES = [
  DeviceRegistry__factory.createInterface(),
  DeviceStaking__factory.createInterface(),
  FraudProofs__factory.createInterface(),
  IInsurancePool__factory.createInterface(),
  // OpenZeppelin ERC4626's errors (the pool's interface, an IERC4626, does not declare them).
  new Interface([
    "error ERC4626ExceededMaxDeposit(address receiver, uint256 assets, uint256 max)",
    "error ERC4626ExceededMaxMint(address receiver, uint256 shares, uint256 max)",
    "error ERC4626ExceededMaxWithdraw(address owner, uint256 assets, uint256 max)",
    "error ERC4626ExceededMaxRedeem(address owner, uint256 shares, uint256 max)",
  ]),
  MockERC20__factory.createInterface(),
  // The appraisers, with the quote and token parsers' errors (TpmQuoteLib, PsaTokenLib).
  TpmAttestation__factory.createInterface(),
  PsaAttestation__factory.createInterface(),
];

/** Revert data: strict hex (the one rule, src/protocol/hex.ts) holding at least a 4-byte selector. */
function isRevertData(value: unknown): value is string {
  return isHex(value) && value.length >= 10;
}

/** Finds the revert data in an ethers / Hardhat / EDR error, wherever the layers nested it. */
export function findRevertData(err: unknown, depth = 0): string | undefined {
  if (depth > 6 || err === null || typeof err !== "object") return undefined;
  const record = err as Record<string, unknown>;
  for (const key of ["data", "revertData"] as const) {
    const v = record[key];
    if (isRevertData(v)) return v;
    if (typeof v === "object" && v !== null) {
      const inner = (v as Record<string, unknown>).data;
      if (isRevertData(inner)) return inner;
    }
  }
  for (const key of ["error", "info", "cause", "revert", "originalError"] as const) {
    const found = findRevertData(record[key], depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The first of `interfaces` that declares the selector of revert `data` and whose error `wanted` takes,
 * parsed; undefined if none.
 */
function parseRevert(
  data: string,
  interfaces: readonly Interface[],
  wanted: (name: string) => boolean,
): { readonly name: string; readonly args: unknown[] } | undefined {
  for (const iface of interfaces) {
    let parsed;
    try {
      parsed = iface.parseError(data);
    } catch {
      continue; // a selector this interface declares, with malformed arguments
    }
    if (parsed !== null && wanted(parsed.name)) {
      return { name: parsed.name, args: parsed.args.toArray() };
    }
  }
  return undefined;
}

/** Decodes revert data of any DeviceRegistry, DeviceStaking, FraudProofs, InsurancePool, DeviceKeyLib, AccessControl, ERC-4626 or ERC-20 custom error. */
export function decodeRevertData(data: string, cause?: unknown): ContractError | undefined {
  const parsed = parseRevert(data, INTERFACES, () => true);
  return parsed === undefined ? undefined : contractError(parsed.name, parsed.args, cause);
}

/**
 * The ContractError of revert `data` when one of `interfaces` declares its selector and `sentences`
 * explains it (each component's errors file: accounts, channels, feeds); undefined otherwise.
 */
export function decodeWithSentences(
  data: string,
  interfaces: readonly Interface[],
  sentences: ErrorSentences,
  cause?: unknown,
): ContractError | undefined {
  const parsed = parseRevert(data, interfaces, (name) => name in sentences);
  return parsed === undefined
    ? undefined
    : contractError(parsed.name, parsed.args, cause, sentences);
}

/** The ContractError for custom error `name` with `args`, e.g. for a check made before sending. */
export function contractError(
  name: string,
  args: readonly unknown[],
  cause?: unknown,
  sentences: ErrorSentences = EXPLAIN,
): ContractError {
  const explain = sentences[name];
  const sentence = explain === undefined ? "the contract rejected the call" : explain(args);
  const call = `${name}(${args.map(s).join(", ")})`;
  return new ContractError(
    name,
    args,
    `${call}: ${sentence}`,
    cause === undefined ? undefined : { cause },
  );
}

/** The decoded contract error inside `err`, if it is a revert with a known custom error. */
export function decodeContractError(err: unknown): ContractError | undefined {
  if (err instanceof ContractError) return err;
  const data = findRevertData(err);
  return data === undefined ? undefined : decodeRevertData(data, err);
}

/**
 * Any error as a DeviceTrustError whose message a person can act on: custom errors decoded into
 * sentences, DeviceTrust errors kept, anything else wrapped with its own message.
 */
/** A service could not listen: its port is taken (EADDRINUSE), said with what to do. */
function portInUse(err: unknown): DeviceTrustError | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const e = err as { code?: unknown; port?: unknown; address?: unknown };
  if (e.code !== "EADDRINUSE") return undefined;
  const where = `port ${String(e.port)} on ${String(e.address)}`;
  return new DeviceTrustError(
    "PORT_IN_USE",
    `${where} is already in use: stop what listens there or choose another port (the command's --port, --broker-port or --http-port)`,
    { cause: err },
  );
}

export function explainError(err: unknown): DeviceTrustError {
  const decoded = decodeContractError(err);
  if (decoded !== undefined) return decoded;
  if (err instanceof DeviceTrustError) return err;
  const inUse = portInUse(err);
  if (inUse !== undefined) return inUse;
  const message = err instanceof Error ? err.message : String(err);
  return new DeviceTrustError("UNEXPECTED", message, { cause: err });
}
