variable "name" {
  description = "Name prefix."
  type        = string
}

variable "region" {
  description = "AWS region (for the S3 gateway endpoint service name)."
  type        = string
}

variable "cidr" {
  description = "VPC CIDR; subnets are /24s carved from it."
  type        = string
}

variable "single_nat_gateway" {
  description = "One NAT gateway shared by both private subnets."
  type        = bool
}

variable "log_retention_days" {
  description = "Retention of the flow-log group."
  type        = number
}
