{{/*
Names and labels. Every object is named after the release ("<release>-roster", or the release
name alone when it already says roster), so two releases can share a namespace.
*/}}
{{- define "roster.fullname" -}}
{{- if contains "roster" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-roster" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "roster.selectorLabels" -}}
app.kubernetes.io/name: roster
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "roster.labels" -}}
{{ include "roster.selectorLabels" . }}
app.kubernetes.io/part-of: roster
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "roster.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The database URL and the data key, from Secrets created out of band: never values of this
chart. */}}
{{- define "roster.secretEnv" -}}
- name: ROSTER__DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.urlKey }}
- name: ROSTER__SECURITY__DATA_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.dataKey.existingSecret }}
      key: {{ .Values.dataKey.key }}
{{- end -}}

{{/* The pod and container security settings the image is built for (uid 10001, read-only). */}}
{{- define "roster.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "roster.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
