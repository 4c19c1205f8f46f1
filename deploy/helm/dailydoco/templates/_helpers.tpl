{{/* The chart's common labels; name is the workload's. */}}
{{- define "dailydoco.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: dailydoco
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The labels that select a workload's pods. */}}
{{- define "dailydoco.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The annotations of a cluster's conventional kubernetes-pods scrape job: every workload
serves /metrics on its http port (the ServiceMonitor's endpoint too). */}}
{{- define "dailydoco.scrape" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .w.port | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* A workload's image reference. */}}
{{- define "dailydoco.image" -}}
{{- if .root.Values.image.registry -}}
{{ .root.Values.image.registry }}/{{ .w.image }}:{{ .root.Values.image.tag }}
{{- else -}}
{{ .w.image }}:{{ .root.Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* A workload's pod spec: its container with the plan's probes and resources, its pool (and
zone, when the workload names one), the GPU toleration when it asks for GPUs, and the spread over zones. */}}
{{- define "dailydoco.podSpec" -}}
nodeSelector:
  {{ .root.Values.poolLabel }}: {{ .w.pool }}
  {{- with .w.zone }}
  topology.kubernetes.io/zone: {{ . }}
  {{- end }}
{{- $nodeDown := .root.Values.nodeFailureTolerationSeconds }}
{{- if or .w.gpus (not (kindIs "invalid" $nodeDown)) }}
tolerations:
  {{- if .w.gpus }}
  - key: nvidia.com/gpu
    operator: Exists
    effect: NoSchedule
  {{- end }}
  {{- if not (kindIs "invalid" $nodeDown) }}
  {{- range list "node.kubernetes.io/unreachable" "node.kubernetes.io/not-ready" }}
  - key: {{ . }}
    operator: Exists
    effect: NoExecute
    tolerationSeconds: {{ $nodeDown }}
  {{- end }}
  {{- end }}
{{- end }}
topologySpreadConstraints:
  - maxSkew: {{ .root.Values.zoneSpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: {{ .root.Values.zoneSpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "dailydoco.selector" . | nindent 8 }}
containers:
  - name: {{ .name }}
    image: {{ include "dailydoco.image" . }}
    imagePullPolicy: {{ .root.Values.image.pullPolicy }}
    ports:
      - name: http
        containerPort: {{ .w.port }}
    env:
      - name: POD_IP
        valueFrom: {fieldRef: {fieldPath: status.podIP}}
      - name: NODE_NAME
        valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
      - name: POD_NAME
        valueFrom: {fieldRef: {fieldPath: metadata.name}}
      - name: DDP_HTTP_PORT
        value: {{ .w.port | quote }}
      {{- if ne .name "data-tier" }}
      - name: DDP_DATATIER_URL
        value: "http://$(DATA_TIER_SERVICE_HOST):$(DATA_TIER_SERVICE_PORT)"
      {{- end }}
      - name: DDP_DATATIER_TOKEN
        valueFrom: {secretKeyRef: {name: {{ .root.Values.platform.secretName }}, key: datatier-token}}
      {{- if eq .name "api-server" }}
      - name: DDP_SIGNING_SECRET
        valueFrom: {secretKeyRef: {name: {{ .root.Values.platform.secretName }}, key: signing-secret}}
      {{- end }}
      {{- if .w.gpus }}
      - name: DDP_GPUS
        value: {{ .w.gpus | quote }}
      {{- end }}
      {{- if .w.dataDir }}
      - name: DDP_DATA_DIR
        value: {{ .w.dataDir | quote }}
      {{- end }}
    {{- with .w.args }}
    args: {{ toJson . }}
    {{- end }}
    resources:
      requests:
        {{- toYaml .w.resources.requests | nindent 8 }}
      limits:
        {{- toYaml .w.resources.limits | nindent 8 }}
        {{- if .w.gpus }}
        nvidia.com/gpu: {{ .w.gpus }}
        {{- end }}
    {{- with .root.Values.probes }}
    livenessProbe:
      httpGet: {path: {{ .liveness.path }}, port: http}
      initialDelaySeconds: {{ .liveness.initialDelaySeconds }}
      periodSeconds: {{ .liveness.periodSeconds }}
      failureThreshold: {{ .liveness.failureThreshold }}
    readinessProbe:
      httpGet: {path: {{ .readiness.path }}, port: http}
      initialDelaySeconds: {{ .readiness.initialDelaySeconds }}
      periodSeconds: {{ .readiness.periodSeconds }}
      failureThreshold: {{ .readiness.failureThreshold }}
    {{- end }}
{{- end -}}
