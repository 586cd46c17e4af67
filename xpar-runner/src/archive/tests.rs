//! An archive made of a fake build and opened elsewhere: every path lands in the
//! extraction or the remapped workspace, the listing and markers come back as they were,
//! and only the files the tests need go in. No process is run.

use std::path::{Path, PathBuf};

use xpar_protocol::Serial;

use super::*;
use crate::discover::{
    binary_id, BinaryContent, BinaryKind, Harness, ListedBinary, ListedTest, Markers, TestBinary,
    TestList, DYLIB_PATH_VAR,
};

struct FakeBuild {
    _dir: tempfile::TempDir,
    workspace: PathBuf,
    target: PathBuf,
    list: TestList,
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A workspace with a package `alpha`, its test binary linking `libshared.so` (named in
/// its bytes) and not `libmacro.so`, a helper executable and a build script's OUT_DIR.
fn fake_build() -> FakeBuild {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    let target = workspace.join("target");
    let deps = target.join("debug/deps");
    let suffix = std::env::consts::DLL_SUFFIX;
    let binary = deps.join("alpha-1234");
    write(&binary, format!("ELF... libshared{suffix} ...").as_bytes());
    write(&deps.join(format!("libshared{suffix}")), b"shared");
    write(&deps.join(format!("libmacro{suffix}")), b"proc macro");
    write(&target.join("debug/helper"), b"helper exe");
    let out_dir = target.join("debug/build/alpha-99/out");
    write(&out_dir.join("gen/data.txt"), b"generated");
    write(&workspace.join("alpha/src/lib.rs"), b"// sources stay out");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let dylib_path = std::env::join_paths([deps.clone(), PathBuf::from("/build/sysroot/lib")])
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let binary = TestBinary {
        id: binary_id("alpha", BinaryKind::Lib, "alpha"),
        package: "alpha".into(),
        kind: BinaryKind::Lib,
        path: binary.clone(),
        cwd: workspace.join("alpha"),
        args: Vec::new(),
        timeout: None,
        env: vec![
            ("CARGO_MANIFEST_DIR".into(), s(&workspace.join("alpha"))),
            ("CARGO_PKG_NAME".into(), "alpha".into()),
            (
                "CARGO_BIN_EXE_helper".into(),
                s(&target.join("debug/helper")),
            ),
            ("OUT_DIR".into(), s(&out_dir)),
            ("CARGO".into(), "/build/machine/cargo".into()),
            (DYLIB_PATH_VAR.into(), dylib_path),
        ],
        no_listing: None,
        repeated: Vec::new(),
        runner: Vec::new(),
    };
    let tests = vec![
        ListedTest {
            name: "tests::a".into(),
            ignored: false,
            source_path: Some("alpha/src/lib.rs".into()),
            markers: Markers {
                serial: Serial::Keys(vec!["db".into()]),
                parallel_safe: false,
                resource_slots: Some(3),
                group: Some("g".into()),
                ..Markers::default()
            },
        },
        ListedTest {
            name: "tests::slow".into(),
            ignored: true,
            ..ListedTest::default()
        },
    ];
    let list = TestList {
        binaries: vec![ListedBinary {
            binary,
            content: BinaryContent::Tests(tests),
            harness: Harness::Libtest,
        }],
    };
    FakeBuild {
        _dir: dir,
        workspace,
        target,
        list,
    }
}

fn env_of<'a>(b: &'a TestBinary, name: &str) -> &'a str {
    b.env
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {:?}", b.env))
}

#[test]
fn an_archive_opens_elsewhere_as_the_build_was() {
    let build = fake_build();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a.tar.zst");
    let summary = create(
        &build.list,
        &ArchiveBuild {
            workspace_root: build.workspace.clone(),
            target_dir: build.target.clone(),
            coverage: false,
        },
        &file,
    )
    .unwrap();
    // The binary, the helper, libshared and the OUT_DIR's one file.
    assert_eq!((summary.binaries, summary.files), (1, 4));
    let remap = out.path().join("checkout");
    std::fs::create_dir_all(&remap).unwrap();
    let extract = out.path().join("extracted");
    let opened = open(&ArchiveSource {
        file: file.clone(),
        workspace_remap: Some(remap.clone()),
        extract_to: Some(extract.clone()),
    })
    .unwrap();
    assert_eq!(opened.info.build_id, summary.build_id);
    let found = &opened.discovered;
    assert_eq!(found.workspace_root, remap);
    let lb = &found.list.binaries[0];
    let b = &lb.binary;
    let xt = extract.join("target");
    assert_eq!(b.path, xt.join("debug/deps/alpha-1234"));
    assert_eq!(b.cwd, remap.join("alpha"));
    assert_eq!(
        Path::new(env_of(b, "CARGO_MANIFEST_DIR")),
        remap.join("alpha")
    );
    assert_eq!(env_of(b, "CARGO_PKG_NAME"), "alpha");
    let helper = PathBuf::from(env_of(b, "CARGO_BIN_EXE_helper"));
    assert_eq!(helper, xt.join("debug/helper"));
    assert_eq!(std::fs::read(helper).unwrap(), b"helper exe");
    let out_dir = PathBuf::from(env_of(b, "OUT_DIR"));
    assert_eq!(
        std::fs::read(out_dir.join("gen/data.txt")).unwrap(),
        b"generated"
    );
    let dylib = std::env::split_paths(env_of(b, DYLIB_PATH_VAR)).next();
    assert_eq!(dylib, Some(xt.join("debug/deps")));
    assert!(!env_of(b, DYLIB_PATH_VAR).contains("/build/sysroot"));
    assert!(b.env.iter().all(|(_, v)| v != "/build/machine/cargo"));
    let suffix = std::env::consts::DLL_SUFFIX;
    assert!(xt.join(format!("debug/deps/libshared{suffix}")).is_file());
    assert!(!xt.join(format!("debug/deps/libmacro{suffix}")).exists());
    assert!(!extract.join("ws").exists() && !xt.join("alpha").exists());
    match (&lb.content, &build.list.binaries[0].content) {
        (BinaryContent::Tests(got), BinaryContent::Tests(want)) => assert_eq!(got, want),
        other => panic!("{other:?}"),
    }
    assert_eq!(lb.harness, Harness::Libtest);
}

#[test]
fn the_build_workspace_is_the_default_and_must_exist() {
    let build = fake_build();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a.tar.zst");
    let info = ArchiveBuild {
        workspace_root: build.workspace.clone(),
        target_dir: build.target.clone(),
        coverage: false,
    };
    create(&build.list, &info, &file).unwrap();
    let source = ArchiveSource {
        file: file.clone(),
        workspace_remap: None,
        extract_to: None,
    };
    let opened = open(&source).unwrap();
    assert_eq!(opened.discovered.workspace_root, build.workspace);
    let temp = opened.info.extraction.temp_dir().unwrap().to_owned();
    assert!(temp.is_dir());
    drop(opened);
    assert!(!temp.exists(), "the temporary extraction is removed");
    // Not instrumented: refused for a coverage run.
    let err = open_for_run(&source, true).err().unwrap();
    assert!(err.to_string().contains("archive --coverage"), "{err}");
    std::fs::remove_dir_all(&build.workspace).unwrap();
    let err = open(&source).err().unwrap();
    assert!(err.to_string().contains("pass --workspace-remap"), "{err}");
}
