package gadgetspec

// This file is the one place that knows the annotation templates: the
// presets behind the "template" field annotation, which BTF typedef (or
// struct) implies which template, and the special handling of
// struct gadget_process. Everything else looks templates up here.

// Annotation keys used by the templates.
const (
	annWidth     = "columns.width"
	annMinWidth  = "columns.minwidth"
	annMaxWidth  = "columns.maxwidth"
	annAlignment = "columns.alignment"
	annEllipsis  = "columns.ellipsis"
	annHidden    = "columns.hidden"
	annAlias     = "columns.alias"
	annTemplate  = "template"
)

// templates maps a template name (the value of a "template" annotation) to
// its preset annotations.
var templates = map[string]map[string]string{
	"timestamp":            {annWidth: "35", annMaxWidth: "35", annEllipsis: "end", annHidden: "true"},
	"bytes":                {annWidth: "10", annAlignment: "right"},
	"duration":             {annWidth: "20", annAlignment: "right"},
	"node":                 {annWidth: "30", annEllipsis: "middle"},
	"pod":                  {annWidth: "30", annEllipsis: "middle"},
	"container":            {annWidth: "30"},
	"namespace":            {annWidth: "30"},
	"containerImageName":   {annWidth: "30"},
	"containerImageDigest": {annWidth: "30"},
	"containerPid":         {annWidth: "6", annHidden: "true", annAlignment: "right"},
	"containerStartedAt":   {annWidth: "35", annHidden: "true"},
	"comm":                 {annMaxWidth: "16"},
	"pcomm":                {annMaxWidth: "16", annHidden: "true"},
	"pid":                  {annMinWidth: "7", annAlignment: "right"},
	"tid":                  {annMinWidth: "7", annAlignment: "right"},
	"ppid":                 {annMinWidth: "7", annAlignment: "right", annHidden: "true"},
	"ptid":                 {annMinWidth: "7", annAlignment: "right", annHidden: "true"},
	"uid":                  {annMinWidth: "8", annAlignment: "right"},
	"gid":                  {annMinWidth: "8", annAlignment: "right"},
	"ns":                   {annWidth: "12", annAlignment: "right", annHidden: "true"},
	"mntns_id":             {annWidth: "12", annAlignment: "right", annHidden: "true"},
	"netns_id":             {annWidth: "12", annAlignment: "right", annHidden: "true"},
	"l4endpoint":           {annMinWidth: "22", annWidth: "40", annMaxWidth: "52", annEllipsis: "middle"},
	"syscall":              {annWidth: "18", annMaxWidth: "28"},
	"errorString":          {annWidth: "12"},
	"user_stack":           {annHidden: "true"},
}

// typeTemplates maps a BTF typedef name, or the name of a struct used as a
// member type, to the template it implies.
var typeTemplates = map[string]string{
	"gadget_mntns_id":     "mntns_id",
	"gadget_netns_id":     "netns_id",
	"gadget_timestamp":    "timestamp",
	"gadget_pid":          "pid",
	"gadget_tid":          "tid",
	"gadget_ppid":         "ppid",
	"gadget_ptid":         "ptid",
	"gadget_uid":          "uid",
	"gadget_gid":          "gid",
	"gadget_comm":         "comm",
	"gadget_pcomm":        "pcomm",
	"gadget_bytes":        "bytes",
	"gadget_duration":     "duration",
	"gadget_syscall":      "syscall",
	"gadget_user_stack":   "user_stack",
	"gadget_l4endpoint_t": "l4endpoint",
}

// structRule is the special handling of a struct used as a member type.
type structRule struct {
	// hidden hides the container field itself.
	hidden bool
	// aliasMembers gives every field below the container the annotation
	// columns.alias = its member name (so "proc.pid" shows as "pid").
	aliasMembers bool
	// hiddenMembers names direct members whose whole subtree is hidden.
	hiddenMembers []string
}

var structRules = map[string]structRule{
	"gadget_process": {hidden: true, aliasMembers: true, hiddenMembers: []string{"parent"}},
}

// templateFor returns the preset implied by the first name in names that
// has a template, or nil.
func templateFor(names []string) map[string]string {
	for _, n := range names {
		if t := typeTemplates[n]; t != "" {
			return templates[t]
		}
	}
	return nil
}
