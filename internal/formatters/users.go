package formatters

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// idNames maps user or group ids to names, read once from a passwd- or
// group-format file.
type idNames map[uint32]string

// loadIDNames reads name:x:id:... lines from path. A missing or unreadable
// file gives an empty table: names then render as "uid:N", which is what
// a user would see for an id the file does not list.
func loadIDNames(path string) (idNames, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return idNames{}, nil
		}
		return idNames{}, err
	}
	return parseIDNames(data), nil
}

// parseIDNames parses the passwd(5) / group(5) format: the name is the
// first field and the id the third. Blank lines, comments and malformed
// lines are skipped. When an id is listed twice the first entry wins, as
// with getpwuid(3) on a files database.
func parseIDNames(data []byte) idNames {
	m := idNames{}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		fields := bytes.SplitN(line, []byte(":"), 4)
		if len(fields) < 3 || len(fields[0]) == 0 {
			continue
		}
		id, err := strconv.ParseUint(string(bytes.TrimSpace(fields[2])), 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = string(fields[0])
		}
	}
	return m
}

// hostIDNames reads <root>/etc/passwd and <root>/etc/group.
func hostIDNames(root string) (users, groups idNames, err error) {
	if root == "" {
		root = "/"
	}
	users, err1 := loadIDNames(filepath.Join(root, "etc", "passwd"))
	groups, err2 := loadIDNames(filepath.Join(root, "etc", "group"))
	return users, groups, errors.Join(err1, err2)
}
