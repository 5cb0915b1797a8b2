"""``csms.ocpp.rotation.SecretSealer`` on AWS KMS: the stack's customer-managed key (``SECRETS_KMS_KEY_ID``).

Encrypt on queueing (the Api function), Decrypt when the frame is built (the functions that post to
chargers); the charge point id is the encryption context, so a ciphertext only opens for its
charger, and CloudTrail records every use. One KMS request each way per rotation ($0.03 per 10,000).
"""

from __future__ import annotations

import base64
import binascii

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from csms.ocpp.rotation import SEALED, SealError

PREFIX = SEALED + "kms:"


class KmsSealer:
    def __init__(self, key_id: str, region: str, client=None):
        self.key_id = key_id
        self.client = client or boto3.client("kms", region_name=region)

    @staticmethod
    def _context(charge_point_id: str) -> dict[str, str]:
        return {"purpose": "AuthorizationKey", "charge_point_id": charge_point_id}

    def seal(self, plaintext: str, context: str) -> str:
        blob = self.client.encrypt(KeyId=self.key_id, Plaintext=plaintext.encode(),
                                   EncryptionContext=self._context(context))["CiphertextBlob"]
        return PREFIX + base64.b64encode(blob).decode()

    def open(self, token: str, context: str) -> str:
        if not token.startswith(PREFIX):
            raise SealError("not a KMS-sealed value")
        try:
            blob = base64.b64decode(token[len(PREFIX):], validate=True)
            return self.client.decrypt(CiphertextBlob=blob, EncryptionContext=self._context(context),
                                       KeyId=self.key_id)["Plaintext"].decode()
        except (binascii.Error, ClientError, BotoCoreError, UnicodeDecodeError) as exc:
            raise SealError(f"cannot open a sealed value: {exc}") from exc
