package dbtest

import (
	"strconv"

	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
)

// traceVFSName is the VFS of dbtest's SQLite databases: the memdb VFS, with
// every lock of every main database file recorded (see sqlite_trace.go).
// traceFileVFSName is the same over the os VFS, for databases in WAL mode,
// which needs files and shared memory.
const (
	traceVFSName     = "dbtest"
	traceFileVFSName = "dbtest-file"
)

// connParam is the URI parameter that tells the VFS which connection opens
// a file.
const connParam = "dbtest_conn"

func init() {
	vfs.Register(traceVFSName, traceVFS{base: vfs.Find("memdb")})
	vfs.Register(traceFileVFSName, traceVFS{base: vfs.Find("os")})
}

type traceVFS struct{ base vfs.VFS }

var _ vfs.VFSFilename = traceVFS{}

func (t traceVFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	return vfsutil.WrapOpen(t.base, name, flags)
}

func (t traceVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := vfsutil.WrapOpenFilename(t.base, name, flags)
	if err != nil || flags&vfs.OPEN_MAIN_DB == 0 || name == nil {
		return f, flags, err
	}
	id, _ := strconv.Atoi(name.URIParameter(connParam))
	tr := trackerFor(name.String())
	return &traceFile{File: f, tr: tr, conn: tr.attach(id)}, flags, nil
}

func (t traceVFS) Delete(name string, syncDir bool) error { return t.base.Delete(name, syncDir) }
func (t traceVFS) Access(name string, flags vfs.AccessFlag) (bool, error) {
	return t.base.Access(name, flags)
}
func (t traceVFS) FullPathname(name string) (string, error) { return t.base.FullPathname(name) }

// traceFile records the locks taken on a main database file.
type traceFile struct {
	vfs.File
	tr   *lockTracker
	conn *connState
}

func (f *traceFile) Unwrap() vfs.File { return f.File }

func (f *traceFile) Lock(lock vfs.LockLevel) error {
	err := f.File.Lock(lock)
	f.tr.locked(f.conn, lock, err)
	return err
}

func (f *traceFile) Unlock(lock vfs.LockLevel) error {
	err := f.File.Unlock(lock)
	if err == nil {
		f.tr.unlocked(f.conn, lock)
	}
	return err
}

func (f *traceFile) Close() error {
	f.tr.unlocked(f.conn, vfs.LOCK_NONE)
	f.tr.detach(f.conn)
	return f.File.Close()
}

// The optional interfaces, passed through to the wrapped file.

func (f *traceFile) LockState() vfs.LockLevel       { return vfsutil.WrapLockState(f.File) }
func (f *traceFile) PersistWAL() bool               { return vfsutil.WrapPersistWAL(f.File) }
func (f *traceFile) SetPersistWAL(keep bool)        { vfsutil.WrapSetPersistWAL(f.File, keep) }
func (f *traceFile) PowersafeOverwrite() bool       { return vfsutil.WrapPowersafeOverwrite(f.File) }
func (f *traceFile) SetPowersafeOverwrite(p bool)   { vfsutil.WrapSetPowersafeOverwrite(f.File, p) }
func (f *traceFile) ChunkSize(size int)             { vfsutil.WrapChunkSize(f.File, size) }
func (f *traceFile) SizeHint(size int64) error      { return vfsutil.WrapSizeHint(f.File, size) }
func (f *traceFile) HasMoved() (bool, error)        { return vfsutil.WrapHasMoved(f.File) }
func (f *traceFile) Overwrite() error               { return vfsutil.WrapOverwrite(f.File) }
func (f *traceFile) SyncSuper(super string) error   { return vfsutil.WrapSyncSuper(f.File, super) }
func (f *traceFile) CommitPhaseTwo() error          { return vfsutil.WrapCommitPhaseTwo(f.File) }
func (f *traceFile) BeginAtomicWrite() error        { return vfsutil.WrapBeginAtomicWrite(f.File) }
func (f *traceFile) CommitAtomicWrite() error       { return vfsutil.WrapCommitAtomicWrite(f.File) }
func (f *traceFile) RollbackAtomicWrite() error     { return vfsutil.WrapRollbackAtomicWrite(f.File) }
func (f *traceFile) CheckpointStart()               { vfsutil.WrapCheckpointStart(f.File) }
func (f *traceFile) CheckpointDone()                { vfsutil.WrapCheckpointDone(f.File) }
func (f *traceFile) BusyHandler(h func() bool)      { vfsutil.WrapBusyHandler(f.File, h) }
func (f *traceFile) SharedMemory() vfs.SharedMemory { return vfsutil.WrapSharedMemory(f.File) }
func (f *traceFile) Pragma(name, value string) (string, error) {
	return vfsutil.WrapPragma(f.File, name, value)
}

var (
	_ vfs.FileLockState          = (*traceFile)(nil)
	_ vfs.FilePersistWAL         = (*traceFile)(nil)
	_ vfs.FilePowersafeOverwrite = (*traceFile)(nil)
	_ vfs.FileChunkSize          = (*traceFile)(nil)
	_ vfs.FileSizeHint           = (*traceFile)(nil)
	_ vfs.FileHasMoved           = (*traceFile)(nil)
	_ vfs.FileOverwrite          = (*traceFile)(nil)
	_ vfs.FileSync               = (*traceFile)(nil)
	_ vfs.FileCommitPhaseTwo     = (*traceFile)(nil)
	_ vfs.FileBatchAtomicWrite   = (*traceFile)(nil)
	_ vfs.FileCheckpoint         = (*traceFile)(nil)
	_ vfs.FileBusyHandler        = (*traceFile)(nil)
	_ vfs.FileSharedMemory       = (*traceFile)(nil)
	_ vfs.FilePragma             = (*traceFile)(nil)
	_ vfs.FileUnwrap             = (*traceFile)(nil)
)
