//! The `azure-sim` binary's command line.

use std::process::Command;

#[test]
fn the_dev_idp_is_a_subcommand_of_azure_sim() {
    let output = Command::new(env!("CARGO_BIN_EXE_azure-sim"))
        .args(["dev-idp", "--help"])
        .output()
        .expect("azure-sim runs");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "`azure-sim dev-idp --help`: {help}"
    );
    assert!(help.contains("AZURE_SIM_DEV_IDP_KEY_FILE"), "{help}");
}
