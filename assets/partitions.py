from dagster import DynamicPartitionsDefinition

# One partition per import; its key is the import's id (a contact_imports row).
contact_imports = DynamicPartitionsDefinition(name="contact_imports")
