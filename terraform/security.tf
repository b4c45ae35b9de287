# Security-group graph (tests/infra asserts it):
#   internet --80/443--> alb --8000--> api <--8000-- ui (Service Connect)
#                        alb --8501--> ui
#                        alb --443--> identity provider (console login)
#   api, trainer --5000--> mlflow --5432--> db
#   scorer --5000--> mlflow;  api, scorer, store-bootstrap --5432--> db (the customer store)
#   scorer, dask workers --8786-8787--> dask scheduler
#   dask scheduler, scorer, dask workers --8788-8789--> dask workers
# Tasks accept nothing from any CIDR; outbound HTTPS is open for Docker Hub, AWS APIs (S3 for
# the scorer's snapshot) and, for the trainer, DATA_SOURCE downloads.

resource "aws_security_group" "alb" {
  name_prefix = "${var.project}-alb-"
  description = "ALB: HTTP/HTTPS from the allowed CIDRs"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "api" {
  name_prefix = "${var.project}-api-"
  description = "API tasks: port 8000 from the ALB and the UI"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "ui" {
  name_prefix = "${var.project}-ui-"
  description = "UI tasks: port 8501 from the ALB"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "trainer" {
  name_prefix = "${var.project}-trainer-"
  description = "Trainer tasks: no inbound"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "scorer" {
  #checkov:skip=CKV2_AWS_5:attached when the task starts: the EventBridge Scheduler target (scoring.tf) and run_scorer_command pass it to RunTask
  name_prefix = "${var.project}-scorer-"
  description = "Scorer tasks (Dask client): no inbound"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "dask_scheduler" {
  name_prefix = "${var.project}-dask-scheduler-"
  description = "Dask scheduler: 8786-8787 from the scorer and the workers"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "dask_worker" {
  name_prefix = "${var.project}-dask-worker-"
  description = "Dask workers: 8788-8789 from the scheduler, the scorer and each other"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "store_bootstrap" {
  #checkov:skip=CKV2_AWS_5:attached when the one-shot task starts: run_store_bootstrap_command passes it to RunTask
  count       = local.create_store ? 1 : 0
  name_prefix = "${var.project}-store-bootstrap-"
  description = "Store bootstrap task: no inbound"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "mlflow" {
  count       = local.create_mlflow ? 1 : 0
  name_prefix = "${var.project}-mlflow-"
  description = "MLflow server: port 5000 from the API and the trainer"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

resource "aws_security_group" "db" {
  count       = local.create_mlflow ? 1 : 0
  name_prefix = "${var.project}-db-"
  description = "PostgreSQL (MLflow and the customer store): port 5432 from MLflow, the API, the scorer and the store bootstrap"
  vpc_id      = local.vpc_id
  lifecycle { create_before_destroy = true }
}

# --- ALB ---------------------------------------------------------------------------------------
# Port 80 only answers 301 to HTTPS (aws_lb_listener.http has no other action).
resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:port 80 only answers 301 to HTTPS (aws_lb_listener.http, asserted in tests/infra); no content is served in clear
  for_each          = toset(var.allowed_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP, answered with a redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.allowed_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward to API tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.api_port
  to_port                      = local.api_port
  referenced_security_group_id = aws_security_group.api.id
}

# authenticate-cognito / authenticate-oidc: the ALB itself calls the identity provider's token
# and user-info endpoints over HTTPS.
resource "aws_vpc_security_group_egress_rule" "alb_to_idp" {
  security_group_id = aws_security_group.alb.id
  description       = "Console login: identity provider token and user-info endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_ui" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward to UI tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.ui_port
  to_port                      = local.ui_port
  referenced_security_group_id = aws_security_group.ui.id
}

# --- API ---------------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "ALB to API"
  ip_protocol                  = "tcp"
  from_port                    = local.api_port
  to_port                      = local.api_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "api_from_ui" {
  security_group_id            = aws_security_group.api.id
  description                  = "UI to API over Service Connect"
  ip_protocol                  = "tcp"
  from_port                    = local.api_port
  to_port                      = local.api_port
  referenced_security_group_id = aws_security_group.ui.id
}

resource "aws_vpc_security_group_egress_rule" "api_https" {
  security_group_id = aws_security_group.api.id
  description       = "Image pulls, AWS APIs, external MLflow over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "api_to_mlflow" {
  count                        = local.create_mlflow ? 1 : 0
  security_group_id            = aws_security_group.api.id
  description                  = "Model download from MLflow"
  ip_protocol                  = "tcp"
  from_port                    = local.mlflow_port
  to_port                      = local.mlflow_port
  referenced_security_group_id = aws_security_group.mlflow[0].id
}

# --- UI ----------------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "ui_from_alb" {
  security_group_id            = aws_security_group.ui.id
  description                  = "ALB to Streamlit"
  ip_protocol                  = "tcp"
  from_port                    = local.ui_port
  to_port                      = local.ui_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "ui_to_api" {
  security_group_id            = aws_security_group.ui.id
  description                  = "UI to API over Service Connect"
  ip_protocol                  = "tcp"
  from_port                    = local.api_port
  to_port                      = local.api_port
  referenced_security_group_id = aws_security_group.api.id
}

resource "aws_vpc_security_group_egress_rule" "ui_https" {
  security_group_id = aws_security_group.ui.id
  description       = "Image pulls and AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Trainer -----------------------------------------------------------------------------------
resource "aws_vpc_security_group_egress_rule" "trainer_https" {
  security_group_id = aws_security_group.trainer.id
  description       = "Image pulls, AWS APIs, DATA_SOURCE and external MLflow over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "trainer_to_mlflow" {
  count                        = local.create_mlflow ? 1 : 0
  security_group_id            = aws_security_group.trainer.id
  description                  = "Log runs and register models"
  ip_protocol                  = "tcp"
  from_port                    = local.mlflow_port
  to_port                      = local.mlflow_port
  referenced_security_group_id = aws_security_group.mlflow[0].id
}

# --- MLflow ------------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "mlflow_from_api" {
  count                        = local.create_mlflow ? 1 : 0
  security_group_id            = aws_security_group.mlflow[0].id
  description                  = "API reads models"
  ip_protocol                  = "tcp"
  from_port                    = local.mlflow_port
  to_port                      = local.mlflow_port
  referenced_security_group_id = aws_security_group.api.id
}

resource "aws_vpc_security_group_ingress_rule" "mlflow_from_trainer" {
  count                        = local.create_mlflow ? 1 : 0
  security_group_id            = aws_security_group.mlflow[0].id
  description                  = "Trainer logs runs"
  ip_protocol                  = "tcp"
  from_port                    = local.mlflow_port
  to_port                      = local.mlflow_port
  referenced_security_group_id = aws_security_group.trainer.id
}

resource "aws_vpc_security_group_egress_rule" "mlflow_https" {
  count             = local.create_mlflow ? 1 : 0
  security_group_id = aws_security_group.mlflow[0].id
  description       = "Image pulls, S3 artifacts, AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "mlflow_to_db" {
  count                        = local.create_mlflow ? 1 : 0
  security_group_id            = aws_security_group.mlflow[0].id
  description                  = "Backend store"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db[0].id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_mlflow" {
  count                        = local.create_mlflow ? 1 : 0
  security_group_id            = aws_security_group.db[0].id
  description                  = "MLflow server only"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.mlflow[0].id
}

resource "aws_vpc_security_group_ingress_rule" "mlflow_from_scorer" {
  count                        = local.create_mlflow ? 1 : 0
  security_group_id            = aws_security_group.mlflow[0].id
  description                  = "Scorer loads the champion"
  ip_protocol                  = "tcp"
  from_port                    = local.mlflow_port
  to_port                      = local.mlflow_port
  referenced_security_group_id = aws_security_group.scorer.id
}

# --- Customer store (churn_store on the same instance, store.tf) -------------------------------
resource "aws_vpc_security_group_ingress_rule" "db_from_api" {
  count                        = local.create_store ? 1 : 0
  security_group_id            = aws_security_group.db[0].id
  description                  = "API reads the customer store (churn_reader)"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.api.id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_scorer" {
  count                        = local.create_store ? 1 : 0
  security_group_id            = aws_security_group.db[0].id
  description                  = "Scorer writes the customer store (churn_writer)"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.scorer.id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_store_bootstrap" {
  count                        = local.create_store ? 1 : 0
  security_group_id            = aws_security_group.db[0].id
  description                  = "Store bootstrap creates the store's roles and database"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.store_bootstrap[0].id
}

resource "aws_vpc_security_group_egress_rule" "api_to_db" {
  count                        = local.create_store ? 1 : 0
  security_group_id            = aws_security_group.api.id
  description                  = "Customer store"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db[0].id
}

resource "aws_vpc_security_group_egress_rule" "store_bootstrap_to_db" {
  count                        = local.create_store ? 1 : 0
  security_group_id            = aws_security_group.store_bootstrap[0].id
  description                  = "Roles and database of the customer store"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db[0].id
}

resource "aws_vpc_security_group_egress_rule" "store_bootstrap_https" {
  count             = local.create_store ? 1 : 0
  security_group_id = aws_security_group.store_bootstrap[0].id
  description       = "Image pulls, Secrets Manager"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Scorer ------------------------------------------------------------------------------------
resource "aws_vpc_security_group_egress_rule" "scorer_https" {
  security_group_id = aws_security_group.scorer.id
  description       = "Image pulls, AWS APIs, the S3 snapshot, external MLflow over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "scorer_to_mlflow" {
  count                        = local.create_mlflow ? 1 : 0
  security_group_id            = aws_security_group.scorer.id
  description                  = "Model download from MLflow"
  ip_protocol                  = "tcp"
  from_port                    = local.mlflow_port
  to_port                      = local.mlflow_port
  referenced_security_group_id = aws_security_group.mlflow[0].id
}

resource "aws_vpc_security_group_egress_rule" "scorer_to_db" {
  count                        = local.create_store ? 1 : 0
  security_group_id            = aws_security_group.scorer.id
  description                  = "Customer store writes"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db[0].id
}

resource "aws_vpc_security_group_egress_rule" "scorer_to_dask_scheduler" {
  security_group_id            = aws_security_group.scorer.id
  description                  = "Dask client to the scheduler (protocol, dashboard)"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_scheduler_port
  to_port                      = local.dask_dashboard_port
  referenced_security_group_id = aws_security_group.dask_scheduler.id
}

resource "aws_vpc_security_group_egress_rule" "scorer_to_dask_workers" {
  security_group_id            = aws_security_group.scorer.id
  description                  = "Dask client to the workers"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_worker_port
  to_port                      = local.dask_nanny_port
  referenced_security_group_id = aws_security_group.dask_worker.id
}

# --- Dask scheduler ------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "dask_scheduler_from_scorer" {
  security_group_id            = aws_security_group.dask_scheduler.id
  description                  = "Dask client (the scorer)"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_scheduler_port
  to_port                      = local.dask_dashboard_port
  referenced_security_group_id = aws_security_group.scorer.id
}

resource "aws_vpc_security_group_ingress_rule" "dask_scheduler_from_workers" {
  security_group_id            = aws_security_group.dask_scheduler.id
  description                  = "Dask workers register and report"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_scheduler_port
  to_port                      = local.dask_dashboard_port
  referenced_security_group_id = aws_security_group.dask_worker.id
}

resource "aws_vpc_security_group_egress_rule" "dask_scheduler_to_workers" {
  security_group_id            = aws_security_group.dask_scheduler.id
  description                  = "Scheduler to the workers and their nannies"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_worker_port
  to_port                      = local.dask_nanny_port
  referenced_security_group_id = aws_security_group.dask_worker.id
}

resource "aws_vpc_security_group_egress_rule" "dask_scheduler_https" {
  security_group_id = aws_security_group.dask_scheduler.id
  description       = "Image pulls"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Dask workers --------------------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "dask_worker_from_scheduler" {
  security_group_id            = aws_security_group.dask_worker.id
  description                  = "Scheduler to the workers and their nannies"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_worker_port
  to_port                      = local.dask_nanny_port
  referenced_security_group_id = aws_security_group.dask_scheduler.id
}

resource "aws_vpc_security_group_ingress_rule" "dask_worker_from_scorer" {
  security_group_id            = aws_security_group.dask_worker.id
  description                  = "Dask client (the scorer) gathering results"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_worker_port
  to_port                      = local.dask_nanny_port
  referenced_security_group_id = aws_security_group.scorer.id
}

resource "aws_vpc_security_group_ingress_rule" "dask_worker_from_workers" {
  security_group_id            = aws_security_group.dask_worker.id
  description                  = "Worker to worker transfers"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_worker_port
  to_port                      = local.dask_nanny_port
  referenced_security_group_id = aws_security_group.dask_worker.id
}

resource "aws_vpc_security_group_egress_rule" "dask_worker_to_scheduler" {
  security_group_id            = aws_security_group.dask_worker.id
  description                  = "Workers to the scheduler"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_scheduler_port
  to_port                      = local.dask_scheduler_port
  referenced_security_group_id = aws_security_group.dask_scheduler.id
}

resource "aws_vpc_security_group_egress_rule" "dask_worker_to_workers" {
  security_group_id            = aws_security_group.dask_worker.id
  description                  = "Worker to worker transfers"
  ip_protocol                  = "tcp"
  from_port                    = local.dask_worker_port
  to_port                      = local.dask_nanny_port
  referenced_security_group_id = aws_security_group.dask_worker.id
}

resource "aws_vpc_security_group_egress_rule" "dask_worker_https" {
  security_group_id = aws_security_group.dask_worker.id
  description       = "Image pulls"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
