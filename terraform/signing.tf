# Model provenance (docs/api.md, "Model provenance"): the trainer signs the bundle it publishes
# with an asymmetric KMS key it can only use, never read; the API verifies with the public key
# alone. Anyone who can write to the registry but cannot call kms:Sign cannot get a bundle served.

data "aws_iam_policy_document" "model_signing_key" {
  # checkov reads a key policy as an identity policy, where "*" would be every resource; in a key
  # policy it is this key alone, and the statements name their principals.
  #checkov:skip=CKV_AWS_111:key policy, "*" is this key
  #checkov:skip=CKV_AWS_109:key policy, "*" is this key; PutKeyPolicy stays with the account
  # The account administers the key but cannot use it: kms:Sign is absent here, so no IAM policy
  # can grant it to anyone else. Only the trainer's task role, named below, signs.
  statement {
    sid = "AccountAdministers"
    actions = [
      "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetPublicKey",
      "kms:EnableKey", "kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
      "kms:TagResource", "kms:UntagResource", "kms:ListResourceTags", "kms:UpdateKeyDescription",
    ]
    resources = ["*"] # In a key policy "*" means this key.
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "TrainerSigns"
    actions   = ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.trainer_task.arn]
    }
  }
}

resource "aws_kms_key" "model_signing" {
  description              = "${var.project}: signs the churn model bundles the trainer publishes"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = "ECC_NIST_P256" # ECDSA_SHA_256, what the API verifies.
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.model_signing_key.json
}

resource "aws_kms_alias" "model_signing" {
  name          = "alias/${var.project}-model-signing"
  target_key_id = aws_kms_key.model_signing.key_id
}

# The public half is not a secret: it goes to the API as plain configuration.
data "aws_kms_public_key" "model_signing" {
  key_id = aws_kms_key.model_signing.arn
}

data "aws_iam_policy_document" "trainer_task" {
  statement {
    sid       = "SignModelBundles"
    actions   = ["kms:Sign", "kms:GetPublicKey"]
    resources = [aws_kms_key.model_signing.arn]
  }
}

resource "aws_iam_role_policy" "trainer_task" {
  role   = aws_iam_role.trainer_task.id
  policy = data.aws_iam_policy_document.trainer_task.json
}
