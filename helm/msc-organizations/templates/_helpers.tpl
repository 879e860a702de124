{{/*
Chart name, truncated to the 63 characters Kubernetes allows in names.
*/}}
{{- define "msc-organizations.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name, with the chart name appended
unless the release name already contains it. Components append a suffix of
at most 14 characters, so this is truncated to 48.
*/}}
{{- define "msc-organizations.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "msc-organizations.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels. Call with (dict "root" $ "component" "api").
These are immutable on Deployments: never add anything that can change.
*/}}
{{- define "msc-organizations.selectorLabels" -}}
app.kubernetes.io/name: {{ include "msc-organizations.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Common labels. Call with (dict "root" $ "component" "api").
*/}}
{{- define "msc-organizations.labels" -}}
helm.sh/chart: {{ include "msc-organizations.chart" .root }}
{{ include "msc-organizations.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: msc
msc/region: {{ .root.Values.region }}
{{- end }}

{{/*
Name of a component's resources. Call with (dict "root" $ "component" "api").
*/}}
{{- define "msc-organizations.componentName" -}}
{{- printf "%s-%s" (include "msc-organizations.fullname" .root) .component }}
{{- end }}

{{/*
ServiceAccount used by the API, worker and scheduler pods.
*/}}
{{- define "msc-organizations.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "msc-organizations.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
ServiceAccount used by the migration Job. A pre-install hook runs before the
release's own ServiceAccount exists, so the chart creates a hook
ServiceAccount for it; a pre-existing one is used as is.
*/}}
{{- define "msc-organizations.migrationsServiceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- include "msc-organizations.componentName" (dict "root" . "component" "migrations") }}
{{- else }}
{{- include "msc-organizations.serviceAccountName" . }}
{{- end }}
{{- end }}

{{/*
Container image reference.
*/}}
{{- define "msc-organizations.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
External base URL of the API.
*/}}
{{- define "msc-organizations.publicBaseUrl" -}}
{{- if .Values.config.publicBaseUrl }}
{{- .Values.config.publicBaseUrl | trimSuffix "/" }}
{{- else if .Values.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- else }}
{{- fail "config.publicBaseUrl is required when the ingress is disabled" }}
{{- end }}
{{- end }}

{{/*
Non-secret configuration as a YAML map (name: string value). Rendered into
the ConfigMap and, for the migration Job, directly into env.
*/}}
{{- define "msc-organizations.configData" -}}
APP_ENV: "production"
JWT_ACCESS_TOKEN_MINUTES: {{ .Values.config.jwt.accessTokenMinutes | toString | quote }}
JWT_REFRESH_TOKEN_DAYS: {{ .Values.config.jwt.refreshTokenDays | toString | quote }}
PUBLIC_BASE_URL: {{ include "msc-organizations.publicBaseUrl" . | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
TRUSTED_PROXY_COUNT: {{ .Values.config.trustedProxyCount | toString | quote }}
HTTPS_ONLY: {{ ternary "true" "false" .Values.config.httpsOnly | quote }}
CORS_ALLOWED_ORIGINS: {{ join "," .Values.config.corsAllowedOrigins | quote }}
{{- range $name, $value := .Values.config.rateLimits }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
SMTP_HOST: {{ .Values.config.smtp.host | quote }}
SMTP_PORT: {{ .Values.config.smtp.port | toString | quote }}
SMTP_STARTTLS: {{ ternary "true" "false" .Values.config.smtp.starttls | quote }}
SMTP_SENDER: {{ .Values.config.smtp.sender | quote }}
DOCUMENT_STORAGE_PATH: {{ .Values.documents.mountPath | quote }}
WORKER_JOB_TIMEOUT_SECONDS: {{ .Values.worker.jobTimeoutSeconds | toString | quote }}
METRICS_PORT: {{ .Values.monitoring.metricsPort | toString | quote }}
{{- with .Values.tracing.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- with .Values.database.pgbouncer }}
{{- if and .enabled (not .preparedStatements) }}
DATABASE_PREPARED_STATEMENTS: "false"
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the development Secret.
*/}}
{{- define "msc-organizations.devSecretName" -}}
{{- printf "%s-dev" (include "msc-organizations.fullname" .) }}
{{- end }}

{{/*
One env entry taken from a Secret.
Call with (dict "root" $ "group" "database" "key" "url" "env" "DATABASE_URL").
With devSecret.create the value comes from the development Secret, under the
variable's own name; otherwise from secrets.<group>.existingSecret (default
<fullname>-<group>) under secrets.<group>.keys.<key>.
*/}}
{{- define "msc-organizations.secretEnv" -}}
{{- $root := .root }}
{{- $group := index $root.Values.secrets .group }}
{{- $secretName := "" }}
{{- $secretKey := "" }}
{{- if $root.Values.devSecret.create }}
{{- $secretName = include "msc-organizations.devSecretName" $root }}
{{- $secretKey = .env }}
{{- else }}
{{- $secretName = default (printf "%s-%s" (include "msc-organizations.fullname" $root) .group) $group.existingSecret }}
{{- $secretKey = index $group.keys .key }}
{{- end -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $secretKey }}
{{- end }}

{{/*
Environment shared by every container: the region, plus the secrets every
process needs (application database role, Redis, application keys, SMTP
credentials): every process checks every key before it starts.
With database.pgbouncer.enabled the application role's URL is the one through
PgBouncer, except when called with (dict "root" $ "direct" true): the
migration Job, which connects straight to PostgreSQL.
*/}}
{{- define "msc-organizations.commonEnv" -}}
{{- $root := . }}
{{- $direct := false }}
{{- if hasKey . "root" }}
{{- $root = .root }}
{{- $direct = .direct }}
{{- end }}
{{- $urlKey := ternary "pgbouncerUrl" "url" (and $root.Values.database.pgbouncer.enabled (not $direct)) -}}
- name: REGION
  value: {{ $root.Values.region | quote }}
- name: HOME
  value: /tmp
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "database" "key" $urlKey "env" "DATABASE_URL") }}
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "redis" "key" "url" "env" "REDIS_URL") }}
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "jwt" "key" "secretKey" "env" "JWT_SECRET_KEY") }}
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "jwt" "key" "outboxSecretKey" "env" "OUTBOX_SECRET_KEY") }}
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "jwt" "key" "mfaEncryptionKey" "env" "MFA_ENCRYPTION_KEY") }}
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "jwt" "key" "documentEncryptionKeys" "env" "DOCUMENT_ENCRYPTION_KEYS") }}
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "jwt" "key" "tenantContextKey" "env" "TENANT_CONTEXT_KEY") }}
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "smtp" "key" "username" "env" "SMTP_USERNAME") }}
{{ include "msc-organizations.secretEnv" (dict "root" $root "group" "smtp" "key" "password" "env" "SMTP_PASSWORD") }}
{{- end }}

{{/*
envFrom for the release ConfigMap.
*/}}
{{- define "msc-organizations.configEnvFrom" -}}
- configMapRef:
    name: {{ include "msc-organizations.fullname" . }}
{{- end }}

{{/*
Pod-level securityContext.
*/}}
{{- define "msc-organizations.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container-level securityContext.
*/}}
{{- define "msc-organizations.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The writable /tmp volume and its mount.
*/}}
{{- define "msc-organizations.tmpVolume" -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end }}

{{- define "msc-organizations.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
The documents' volume (the API's only): the claim of documents.existingClaim, or
else an emptyDir (development clusters), and its mount at DOCUMENT_STORAGE_PATH.
*/}}
{{- define "msc-organizations.documentsVolume" -}}
- name: documents
  {{- with .Values.documents.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ . }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}

{{- define "msc-organizations.documentsVolumeMount" -}}
- name: documents
  mountPath: {{ .Values.documents.mountPath }}
{{- end }}

{{/*
Pod template metadata shared by the Deployments: labels (with the region),
the ConfigMap checksum so config changes roll the pods, and the region as an
annotation. Call with (dict "root" $ "component" "api").
*/}}
{{- define "msc-organizations.podMetadata" -}}
labels:
  {{- include "msc-organizations.labels" . | nindent 2 }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
  msc/region: {{ .root.Values.region | quote }}
  {{- with .root.Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
Scheduling and pull settings shared by every pod.
*/}}
{{- define "msc-organizations.podScheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Effective terminationGracePeriodSeconds of worker pods: never shorter than
the longest job, since RQ finishes the current job on SIGTERM.
*/}}
{{- define "msc-organizations.workerGracePeriod" -}}
{{- $timeout := int .Values.worker.jobTimeoutSeconds }}
{{- if kindIs "invalid" .Values.worker.terminationGracePeriodSeconds }}
{{- add $timeout (int .Values.worker.shutdownMarginSeconds) }}
{{- else }}
{{- $grace := int .Values.worker.terminationGracePeriodSeconds }}
{{- if lt $grace $timeout }}
{{- fail (printf "worker.terminationGracePeriodSeconds (%d) must be >= worker.jobTimeoutSeconds (%d): RQ finishes the running job on SIGTERM" $grace $timeout) }}
{{- end }}
{{- $grace }}
{{- end }}
{{- end }}

{{/*
Effective terminationGracePeriodSeconds of API pods: the preStop delay, then
gunicorn's graceful timeout for the requests it accepted, then a margin for the
process to exit; never less, or Kubernetes would kill a pod still answering.
*/}}
{{- define "msc-organizations.apiGracePeriod" -}}
{{- $api := .Values.api }}
{{- $needed := int (add $api.preStopSleepSeconds $api.gracefulTimeoutSeconds $api.shutdownMarginSeconds) }}
{{- if kindIs "invalid" $api.terminationGracePeriodSeconds }}
{{- $needed }}
{{- else }}
{{- $grace := int $api.terminationGracePeriodSeconds }}
{{- if lt $grace $needed }}
{{- fail (printf "api.terminationGracePeriodSeconds (%d) must be >= api.preStopSleepSeconds + api.gracefulTimeoutSeconds + api.shutdownMarginSeconds (%d): gunicorn may still be answering requests" $grace $needed) }}
{{- end }}
{{- $grace }}
{{- end }}
{{- end }}

{{/*
The file a background process (worker, scheduler) touches each time round its
loop, and the liveness probe that checks it (workers/heartbeat.py). The loops come
round while Redis is down too, so an outage of Redis never fails the probe: only a
process that stopped coming round does. Call the probe with the component's
livenessProbe values.
*/}}
{{- define "msc-organizations.heartbeatEnv" -}}
- name: HEARTBEAT_FILE
  value: /tmp/heartbeat
{{- end }}

{{- define "msc-organizations.heartbeatProbe" -}}
exec:
  command:
    - python
    - -m
    - workers.heartbeat
    - {{ .heartbeatMaxAgeSeconds | toString | quote }}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end }}

{{/*
Validate an autoscaling block. Call with (dict "name" "api" "autoscaling" .Values.api.autoscaling).
*/}}
{{- define "msc-organizations.validateAutoscaling" -}}
{{- if .autoscaling.enabled }}
{{- if gt (int .autoscaling.minReplicas) (int .autoscaling.maxReplicas) }}
{{- fail (printf "%s.autoscaling.minReplicas (%d) must not exceed maxReplicas (%d)" .name (int .autoscaling.minReplicas) (int .autoscaling.maxReplicas)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
NetworkPolicy egress rules. Call with (dict "root" $ "targets" (list "database" "redis")).
DNS is always included.
*/}}
{{- define "msc-organizations.egressRules" -}}
{{- $egress := .root.Values.networkPolicy.egress -}}
- ports:
    {{- range $egress.dns.ports }}
    - protocol: UDP
      port: {{ . }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with $egress.dns.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- range $target := .targets }}
{{- $rule := index $egress $target }}
- ports:
    {{- range $rule.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with $rule.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The container port every process serves /metrics on (METRICS_PORT).
*/}}
{{- define "msc-organizations.metricsPort" -}}
- name: metrics
  containerPort: {{ .Values.monitoring.metricsPort }}
  protocol: TCP
{{- end }}

{{/*
NetworkPolicy ingress rule letting the Prometheus that scrapes the pods reach their
metrics port; nothing when the chart does not set up scraping.
*/}}
{{- define "msc-organizations.metricsIngressRule" -}}
{{- if .Values.monitoring.serviceMonitor.enabled -}}
# The Prometheus that scrapes the metrics port (monitoring.serviceMonitor).
- from:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.metricsScraper.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.metricsScraper.podSelector | nindent 8 }}
  ports:
    - protocol: TCP
      port: metrics
{{- end }}
{{- end }}
