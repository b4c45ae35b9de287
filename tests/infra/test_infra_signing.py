"""Model provenance on AWS: only the trainer's role can sign; the API gets the public key only."""

from __future__ import annotations

from infra_hcl import Module, walk


def test_signing_key_is_an_asymmetric_p256_key(root: Module) -> None:
    key = root.resource("aws_kms_key", "model_signing")
    assert key["key_usage"] == "SIGN_VERIFY"
    # ECDSA_SHA_256 over P-256: what churn_api verifies and churn_training signs locally.
    assert key["customer_master_key_spec"] == "ECC_NIST_P256"
    assert "model_signing_key" in key["policy"]


def test_only_the_trainer_may_sign(root: Module) -> None:
    policy = root.data["aws_iam_policy_document"]["model_signing_key"]["statement"]
    signers = [s for s in policy if "kms:Sign" in s["actions"]]
    assert len(signers) == 1
    assert signers[0]["principals"][0]["identifiers"] == ["${aws_iam_role.trainer_task.arn}"]
    # The account administers the key but is not given kms:Sign, so no IAM policy can grant it.
    admin = next(s for s in policy if s["sid"] == "AccountAdministers")
    assert not any(a in ("kms:*", "kms:Sign") for a in admin["actions"])
    trainer = root.data["aws_iam_policy_document"]["trainer_task"]["statement"]
    assert {a for s in trainer for a in s["actions"]} == {"kms:Sign", "kms:GetPublicKey"}
    assert all(s["resources"] == ["${aws_kms_key.model_signing.arn}"] for s in trainer)
    roles = {p["role"] for p in root.of_kind("aws_iam_role_policy").values()}
    assert "${aws_iam_role.trainer_task.id}" in roles
    # No other policy in the configuration mentions kms:Sign.
    others = [
        name
        for name, doc in root.data["aws_iam_policy_document"].items()
        if name not in ("model_signing_key", "trainer_task") and "kms:Sign" in list(walk(doc))
    ]
    assert not others


def test_trainer_signs_with_kms_and_api_verifies_with_the_public_key(root: Module) -> None:
    trainer_env = str(root.modules["trainer"]["environment"])
    assert "MODEL_SIGNING_KMS_KEY_ID" in trainer_env
    assert "aws_kms_key.model_signing.arn" in trainer_env
    api_env = root.modules["api"]["environment"]
    assert api_env["MODEL_PUBLIC_KEYS"] == (
        "${data.aws_kms_public_key.model_signing.public_key_pem}"
    )
    # Never the unsigned development switch on AWS.
    assert "ALLOW_UNSIGNED_MODELS" not in str(root.modules)
