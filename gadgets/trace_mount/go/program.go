// The Wasm half of trace_mount: it adds `call`, the traced syscall written
// as C with its arguments and result, e.g.
//
//	mount("tmpfs", "/mnt", "tmpfs", MS_NOSUID|MS_NODEV, "size=1m") = 0
//	umount2("/mnt", MNT_DETACH) = -1 EINVAL
//	move_mount(6, "", AT_FDCWD, "/mnt", MOVE_MOUNT_F_EMPTY_PATH) = 0
//
// Each syscall's flags get their own names here; the eBPF side has one
// flags field (mount(2)'s MS_* bits) for all operations.
package main

import (
	"strconv"
	"strings"

	api "github.com/gadgetkit/ig/sdk/go"
)

// Operations, as enum op in program.bpf.c.
const (
	opMount = iota
	opUmount
	opFsopen
	opFsmount
	opMoveMount
)

type flagName struct {
	bit  uint64
	name string
}

var msFlags = []flagName{
	{0x1, "MS_RDONLY"}, {0x2, "MS_NOSUID"}, {0x4, "MS_NODEV"}, {0x8, "MS_NOEXEC"},
	{0x10, "MS_SYNCHRONOUS"}, {0x20, "MS_REMOUNT"}, {0x40, "MS_MANDLOCK"}, {0x80, "MS_DIRSYNC"},
	{0x100, "MS_NOSYMFOLLOW"}, {0x400, "MS_NOATIME"}, {0x800, "MS_NODIRATIME"}, {0x1000, "MS_BIND"},
	{0x2000, "MS_MOVE"}, {0x4000, "MS_REC"}, {0x8000, "MS_SILENT"}, {1 << 16, "MS_POSIXACL"},
	{1 << 17, "MS_UNBINDABLE"}, {1 << 18, "MS_PRIVATE"}, {1 << 19, "MS_SLAVE"}, {1 << 20, "MS_SHARED"},
	{1 << 21, "MS_RELATIME"}, {1 << 22, "MS_KERNMOUNT"}, {1 << 23, "MS_I_VERSION"}, {1 << 24, "MS_STRICTATIME"},
	{1 << 25, "MS_LAZYTIME"}, {1 << 26, "MS_SUBMOUNT"}, {1 << 27, "MS_NOREMOTELOCK"}, {1 << 28, "MS_NOSEC"},
	{1 << 29, "MS_BORN"}, {1 << 30, "MS_ACTIVE"}, {1 << 31, "MS_NOUSER"},
}

var umountFlags = []flagName{{1, "MNT_FORCE"}, {2, "MNT_DETACH"}, {4, "MNT_EXPIRE"}, {8, "UMOUNT_NOFOLLOW"}}

var fsopenFlags = []flagName{{1, "FSOPEN_CLOEXEC"}}

var fsmountFlags = []flagName{{1, "FSMOUNT_CLOEXEC"}}

// MOUNT_ATTR_RELATIME is 0 within the 0x70 atime field.
var attrFlags = []flagName{
	{0x1, "MOUNT_ATTR_RDONLY"}, {0x2, "MOUNT_ATTR_NOSUID"}, {0x4, "MOUNT_ATTR_NODEV"}, {0x8, "MOUNT_ATTR_NOEXEC"},
	{0x10, "MOUNT_ATTR_NOATIME"}, {0x20, "MOUNT_ATTR_STRICTATIME"}, {0x80, "MOUNT_ATTR_NODIRATIME"},
	{0x100000, "MOUNT_ATTR_IDMAP"}, {0x200000, "MOUNT_ATTR_NOSYMFOLLOW"},
}

var moveFlags = []flagName{
	{0x1, "MOVE_MOUNT_F_SYMLINKS"}, {0x2, "MOVE_MOUNT_F_AUTOMOUNTS"}, {0x4, "MOVE_MOUNT_F_EMPTY_PATH"},
	{0x10, "MOVE_MOUNT_T_SYMLINKS"}, {0x20, "MOVE_MOUNT_T_AUTOMOUNTS"}, {0x40, "MOVE_MOUNT_T_EMPTY_PATH"},
	{0x100, "MOVE_MOUNT_SET_GROUP"}, {0x200, "MOVE_MOUNT_BENEATH"},
}

// flagsString names the bits of v joined by '|'; unknown bits in hex; "0"
// for none.
func flagsString(v uint64, names []flagName) string {
	if v == 0 {
		return "0"
	}
	var b strings.Builder
	for _, f := range names {
		if v&f.bit != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(f.name)
			v &^= f.bit
		}
	}
	if v != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("0x" + strconv.FormatUint(v, 16))
	}
	return b.String()
}

func fdString(fd int32) string {
	if fd == -100 {
		return "AT_FDCWD"
	}
	return strconv.Itoa(int(fd))
}

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds, err := api.GetDataSource("mount")
	if err != nil {
		api.Errorf("datasource mount: %v", err)
		return 1
	}
	get := func(name string) api.Field {
		f, e := ds.GetField(name)
		if e != nil && err == nil {
			err = e
			api.Errorf("field %s: %v", name, e)
		}
		return f
	}
	op, flags, errno, errName := get("op_raw"), get("flags_raw"), get("error_raw"), get("error")
	fd, srcFd, destFd := get("fd"), get("src_fd"), get("dest_fd")
	opFlags, attr := get("op_flags"), get("attr_flags")
	fs, src, dest, data := get("fs"), get("src"), get("dest"), get("data")
	if err != nil {
		return 1
	}
	call, err := ds.AddField("call", api.Kind_String)
	if err != nil {
		api.Errorf("add field call: %v", err)
		return 1
	}

	var b strings.Builder
	ds.Subscribe(func(_ api.DataSource, d api.Data) {
		str := func(f api.Field) string {
			s, _ := f.String(d, 512)
			return strconv.Quote(s)
		}
		i32 := func(f api.Field) int32 { v, _ := f.Int32(d); return v }
		u32 := func(f api.Field) uint32 { v, _ := f.Uint32(d); return v }
		b.Reset()
		switch u32(op) {
		case opMount:
			v, _ := flags.Uint64(d)
			b.WriteString("mount(" + str(src) + ", " + str(dest) + ", " + str(fs) + ", " +
				flagsString(v, msFlags) + ", " + str(data) + ")")
		case opUmount:
			b.WriteString("umount2(" + str(dest) + ", " + flagsString(uint64(u32(opFlags)), umountFlags) + ")")
		case opFsopen:
			b.WriteString("fsopen(" + str(fs) + ", " + flagsString(uint64(u32(opFlags)), fsopenFlags) + ")")
		case opFsmount:
			b.WriteString("fsmount(" + fdString(i32(srcFd)) + ", " +
				flagsString(uint64(u32(opFlags)), fsmountFlags) + ", " +
				flagsString(uint64(u32(attr)), attrFlags) + ")")
		case opMoveMount:
			// src and fs may have been resolved from the descriptor;
			// the path argument itself is empty then.
			from := str(src)
			if u32(opFlags)&0x4 != 0 {
				from = `""`
			}
			b.WriteString("move_mount(" + fdString(i32(srcFd)) + ", " + from + ", " +
				fdString(i32(destFd)) + ", " + str(dest) + ", " +
				flagsString(uint64(u32(opFlags)), moveFlags) + ")")
		default:
			return
		}
		if e := u32(errno); e != 0 {
			name, _ := errName.String(d, 64)
			if name == "" {
				name = "errno " + strconv.Itoa(int(e))
			}
			b.WriteString(" = -1 " + name)
		} else if o := u32(op); o == opFsopen || o == opFsmount {
			b.WriteString(" = " + strconv.Itoa(int(i32(fd))))
		} else {
			b.WriteString(" = 0")
		}
		call.SetString(d, b.String())
	}, 0)
	return 0
}

func main() {}
